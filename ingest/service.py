"""`IndexService`: the only way to change the index (the CLI, staff jobs and recovery all use it).

A document's manifest entry is written only after all its chunks are stored, so a run killed half-way
leaves every document answerable in its previous version, and the next run finishes the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest import pipeline
from ingest.catalog import (
    DocumentInfo,
    catalog_entry,
    describe,
    load_catalog,
    write_catalog_entry,
)
from ingest.loaders import content_hash, load_document, pdf_page_count
from ingest.pipeline import (
    IngestReport,
    chunk_file,
    document_record,
    documents,
    embedded_texts,
    stage_chunks,
)
from ingest.progress import Progress, announce
from ingest.progress import describe as describe_progress
from prompts import message
from retrieval.contract import DocumentRecord
from retrieval.errors import DocumentRejected
from retrieval.settings import OcrMode
from retrieval.store import ChunkStore
from retrieval.vector_cache import VECTORS_FILE, VectorCache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    """One file to index: where its bytes are, what it is, and where it will live."""

    path: Path  # the bytes to read (a staged upload, or the file itself)
    info: DocumentInfo
    source: Path | None = None  # the manifest's `source` (default: `path`)
    label: str | None = None  # how a failure names it (default: `path`)


@dataclass(frozen=True)
class Hooks:
    """What a caller hears while the index changes; every hook is optional."""

    reading: Callable[[str], None] | None = None  # a document's file is being read (doc_id)
    progress: Callable[[int, int, str], None] | None = None  # (chunks done, total, doc_id)
    staged: Callable[[str], None] | None = None  # a document's chunks stored, still invisible
    commit: Callable[[str, DocumentRecord | None], None] | None = None  # visible (None: removed)


def unchanged(record: DocumentRecord | None, digest: str, source: Path) -> bool:
    """Whether the indexed version is these bytes from this file, chunked by this pipeline."""
    return (
        record is not None
        and record.content_hash == digest
        and record.pipeline == pipeline.PIPELINE_VERSION  # read now: tests set another
        and record.source == str(source)
    )


class IndexService:
    """Index, replace, remove and rebuild documents in one store, with one vector cache."""

    def __init__(self, store: ChunkStore, vectors: VectorCache, ocr: OcrMode = "auto") -> None:
        self.store = store
        self.vectors = vectors
        self.ocr = ocr

    # -- reading -------------------------------------------------------------------------------
    def manifest(self) -> dict[str, DocumentRecord]:
        """The visible document versions, re-read (another process may have committed)."""
        return self.store.manifest(fresh=True)

    # What a file is, before it is indexed: these need no store (uploads are checked with them).
    @staticmethod
    def describe(path: Path) -> DocumentInfo:
        """What a file at `path` would be indexed as (its folder's catalog, else its name)."""
        return describe(path, load_catalog([path.parent]))

    @staticmethod
    def readable_pages(path: Path) -> int:
        """The pages of a file, checked as far as milliseconds allow: a PDF's structure and
        encryption (its pages are read, and OCR'd, by the indexing job, which reports progress
        and refuses a text-less PDF), a text file read whole. DocumentRejected says why a file
        cannot be indexed."""
        if path.suffix.lower() == ".pdf":
            return pdf_page_count(path)
        return len(load_document(path).pages)

    describe_progress = staticmethod(describe_progress)  # "30 de 120 fragmentos (25 %) · …"
    catalog_entry = staticmethod(catalog_entry)
    write_catalog_entry = staticmethod(write_catalog_entry)

    def export_vectors(self, folder: Path) -> tuple[Path, int]:
        """Write `folder/vectors.npz`, the vectors of every text indexing `folder` embeds, so a
        fresh installation indexes it without the model; the file and its number of vectors."""
        path = folder / VECTORS_FILE
        return path, self.vectors.export(embedded_texts([folder], self.ocr), path)

    # -- changing ------------------------------------------------------------------------------
    def index(
        self,
        paths: list[Path],
        rebuild: bool = False,
        progress: bool | None = None,
        hooks: Hooks = Hooks(),
        recompute_vectors: bool = False,
    ) -> IngestReport:
        """Bring the index in line with the documents under `paths`: new and changed ones indexed,
        unchanged ones skipped, those gone from `paths` removed; `rebuild` starts from nothing.

        `progress` is a bar (True), log lines (False) or either, by whether stderr is a terminal
        (None); `recompute_vectors` embeds every text again instead of reusing known vectors.
        """
        started = time.perf_counter()
        paths = [p.resolve() for p in paths]
        described, failed = documents(paths)
        if rebuild:
            self.store.drop()
        vectors = self.vectors.recomputing() if recompute_vectors else self.vectors
        for folder in sorted({path.parent for path, _ in described}):
            vectors.load_bundled(folder / VECTORS_FILE)
        incoming = [Incoming(path, info) for path, info in described]
        report = self._index(incoming, vectors, progress, hooks)
        report.failed[:0] = failed
        seen = {item.info.doc_id for item in incoming}
        for doc_id, record in self.store.manifest().items():
            if doc_id not in seen and _covers(paths, record.source):
                self._remove(doc_id, hooks)
                report.removed.append(doc_id)
        self.store.purge_stale()
        return self._done(report, started)

    def index_files(
        self, files: list[Incoming], hooks: Hooks = Hooks(), progress: bool | None = False
    ) -> IngestReport:
        """Index these files (uploads: read from staging, recorded at their final place); the
        other documents stay as they are."""
        started = time.perf_counter()
        report = self._index(files, self.vectors, progress, hooks)
        self.store.purge_stale()
        return self._done(report, started)

    def remove(self, doc_id: str, hooks: Hooks = Hooks()) -> IngestReport:
        """Stop citing a document: hidden in one write, then its chunks deleted."""
        started = time.perf_counter()
        self.manifest()  # the store writes over what it read last: read what is there now
        self._remove(doc_id, hooks)
        return self._done(IngestReport(removed=[doc_id]), started)

    def purge_stale(self) -> int:
        """Delete the invisible chunks a killed or failed run left; how many."""
        self.manifest()  # what is visible now decides what is stale
        return self.store.purge_stale()

    # -- internals -----------------------------------------------------------------------------
    def _index(
        self, files: list[Incoming], vectors: VectorCache, progress: bool | None, hooks: Hooks
    ) -> IngestReport:
        """Skip the unchanged files, chunk the others, then embed and commit them one by one."""
        self.store.open_for_writing(vectors.model)
        manifest = self.manifest()
        self.store.purge_stale()
        report = IngestReport()
        reused, embedded = vectors.reused, vectors.embedded
        chunked = []
        for item in files:
            source = item.source or item.path
            digest = content_hash(item.path)
            if unchanged(manifest.get(item.info.doc_id), digest, source):
                report.unchanged.append(item.info.doc_id)
                continue
            announce(message("ingest.reading", name=source.name))
            if hooks.reading is not None:
                hooks.reading(item.info.doc_id)
            try:
                digest, chunks = chunk_file(item.path, item.info, self.ocr)
            except DocumentRejected as exc:
                report.failed.append((item.label or str(item.path), str(exc)))
                continue
            chunked.append((item, source, digest, chunks))

        total = sum(len(chunks) for *_, chunks in chunked)
        with Progress(total, terminal=progress) as bar:
            for item, source, digest, chunks in chunked:
                doc_id = item.info.doc_id

                def advance(n: int, doc_id: str = doc_id) -> None:
                    bar.advance(n, doc_id)
                    if hooks.progress is not None:
                        hooks.progress(bar.done, total, doc_id)

                stage_chunks(chunks, self.store, vectors, advance)
                if hooks.staged is not None:
                    hooks.staged(doc_id)
                record = document_record(item.info, source, digest, chunks)
                self.store.commit_document(record)  # this version answers from now on
                if hooks.commit is not None:
                    hooks.commit(doc_id, record)
                (report.updated if doc_id in manifest else report.added).append(doc_id)
                report.chunks += len(chunks)
        report.reused, report.embedded = vectors.reused - reused, vectors.embedded - embedded
        return report

    def _remove(self, doc_id: str, hooks: Hooks) -> None:
        self.store.remove_document(doc_id)
        if hooks.commit is not None:
            hooks.commit(doc_id, None)

    @staticmethod
    def _done(report: IngestReport, started: float) -> IngestReport:
        report.seconds = time.perf_counter() - started
        logger.info("%s", report.summary())
        return report


def _covers(paths: list[Path], source: str) -> bool:
    """Whether a previously indexed file lies under one of the paths of this run."""
    source_path = Path(source)
    return any(source_path == p or p in source_path.parents for p in paths)
