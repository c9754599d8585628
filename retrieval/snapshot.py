"""One state of the index, as answering reads it: built off to the side, swapped in one step."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from retrieval.candidates import UnitBook
from retrieval.contract import DocumentRecord, Facts
from retrieval.embeddings import Embedder
from retrieval.errors import IndexMissing
from retrieval.glossary import Glossary
from retrieval.hybrid import HybridRetriever
from retrieval.mentions import document_names
from retrieval.policy import AnswerPolicy
from retrieval.store import ChunkStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Everything answering needs from one set of visible document versions."""

    fingerprint: str
    manifest: dict[str, DocumentRecord]
    retriever: HybridRetriever
    glossary: Glossary
    units: UnitBook
    policy: AnswerPolicy | None
    names: dict[str, set[frozenset[str]]]  # doc_id -> the words that name it
    facts: dict[str, Facts]  # chunk_id -> structure read at ingestion, parsed once per snapshot


def fingerprint(manifest: dict[str, DocumentRecord]) -> str:
    versions = "\n".join(f"{d} {r.version}" for d, r in sorted(manifest.items()))
    return hashlib.sha256(versions.encode()).hexdigest()


def load_snapshot(
    store: ChunkStore,
    embedder: Embedder,
    policy: AnswerPolicy | None,
    manifest: dict[str, DocumentRecord],
    warm: bool = False,
) -> Snapshot:
    """The snapshot of `manifest`'s versions; IndexMissing when they hold no chunk.

    `warm` reads every chunk's units and terms now (a few seconds on the bundled corpus), which a
    cold snapshot does at each chunk's first question: for a server, before its first question
    and, on a reload, off to the side.
    """
    chunks = store.live_chunks(manifest)
    if not chunks:
        raise IndexMissing("errors.index_missing", location=store.location)
    retriever = HybridRetriever(store, embedder, chunks)
    glossary = Glossary(chunks)
    units = UnitBook(chunks, retriever.terms_of)
    if warm:
        retriever.warm()
        units.warm()
    logger.info(
        "Index opened: %d chunks, %d answer units, %d glossary acronyms, from %s",
        len(chunks),
        len(units),
        len(glossary),
        store.location,
    )
    facts = {c.chunk_id: Facts.model_validate_json(c.facts) for c in chunks if c.facts}
    return Snapshot(
        fingerprint(manifest),
        manifest,
        retriever,
        glossary,
        units,
        policy,
        document_names(manifest.values(), chunks),
        facts,
    )
