"""The Chroma chunk store (embedded or `chroma run` server) and its document manifest.

The manifest (doc_id -> content hash, chunk count, …) lives in the collection's own metadata, so an
embedded index and a shared server behave the same. A document version becomes visible only when its
manifest entry is written; chunks of any other version are invisible and purged on the next run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from urllib.parse import urlparse

import numpy as np

from retrieval.contract import Chunk, DocumentRecord
from retrieval.errors import IndexMissing, ModelMismatch, StoreUnavailable
from retrieval.settings import RetrievalSettings

logger = logging.getLogger(__name__)

_MANIFEST_KEY = "manifest"
_MODEL_KEY = "embedding_model"
_BATCH = 256
# HNSW search breadth: at the default (100) the neighbours found vary between processes on this
# corpus; 400 makes dense results stable and still costs ~1 ms over ~1,000 chunks.
HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 400}


def _client(settings: RetrievalSettings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(
        path=str(settings.data_dir / "chroma"), settings=chroma_settings
    )


class ChunkStore:
    """Chunks with their vectors in one Chroma collection; the manifest in its metadata."""

    def __init__(self, client, name: str, location: str) -> None:
        self._client = client
        self._name = name
        self.location = location
        self._collection = None

    @classmethod
    def open(cls, settings: RetrievalSettings) -> ChunkStore:
        location = settings.chroma_url or str(settings.data_dir.resolve())
        try:
            client = _client(settings)
            client.heartbeat()
        except Exception as exc:  # connection errors come in many types
            raise StoreUnavailable(
                "errors.store_unavailable", location=location, reason=_short(exc)
            ) from exc
        return cls(client, settings.collection, location)

    # -- collection and manifest -------------------------------------------------------------
    def _get(self, create_for_model: str | None = None):
        if self._collection is not None:
            return self._collection
        try:
            if create_for_model is None:
                names = {getattr(c, "name", c) for c in self._client.list_collections()}
                if self._name not in names:
                    return None
                self._collection = self._client.get_collection(self._name, embedding_function=None)
            else:
                self._collection = self._client.get_or_create_collection(
                    self._name,
                    configuration={"hnsw": HNSW},
                    metadata={_MODEL_KEY: create_for_model, _MANIFEST_KEY: "{}"},
                    embedding_function=None,
                )
        except Exception as exc:
            raise StoreUnavailable(
                "errors.store_unavailable", location=self.location, reason=_short(exc)
            ) from exc
        return self._collection

    def embedding_model(self) -> str | None:
        collection = self._get()
        return None if collection is None else (collection.metadata or {}).get(_MODEL_KEY)

    def manifest(self, fresh: bool = False) -> dict[str, DocumentRecord]:
        """Visible document versions; `fresh` re-reads them (another process may have committed)."""
        if fresh:
            self._collection = None
        collection = self._get()
        if collection is None:
            return {}
        raw = json.loads((collection.metadata or {}).get(_MANIFEST_KEY) or "{}")
        return {doc_id: DocumentRecord(**entry) for doc_id, entry in raw.items()}

    def open_for_writing(self, model_identity: str) -> None:
        """Create the collection if needed; refuse an index built with another model."""
        self.check_model(model_identity, allow_missing=True)
        collection = self._get(create_for_model=model_identity)
        hnsw = (collection.configuration or {}).get("hnsw") or {}
        if hnsw.get("ef_search", 0) < HNSW["ef_search"]:  # an index made by an older version
            collection.modify(configuration={"hnsw": {"ef_search": HNSW["ef_search"]}})

    def check_model(self, model_identity: str, allow_missing: bool = False) -> None:
        indexed = self.embedding_model()
        if indexed is None:
            if allow_missing:
                return
            raise IndexMissing("errors.index_missing", location=self.location)
        if indexed != model_identity:
            raise ModelMismatch(
                "errors.model_mismatch",
                location=self.location,
                indexed=indexed,
                configured=model_identity,
            )

    def _write_manifest(self, manifest: dict[str, DocumentRecord]) -> None:
        collection = self._get()
        payload = json.dumps(
            {d: asdict(r) for d, r in sorted(manifest.items())}, ensure_ascii=False
        )
        metadata = {_MODEL_KEY: collection.metadata[_MODEL_KEY], _MANIFEST_KEY: payload}
        collection.modify(metadata=metadata)
        collection.metadata.update(metadata)

    def commit_document(self, record: DocumentRecord) -> None:
        """Make this version of the document the visible one (one metadata write)."""
        manifest = self.manifest()
        manifest[record.doc_id] = record
        self._write_manifest(manifest)

    def remove_document(self, doc_id: str) -> None:
        """Hide the document, then delete every chunk of it."""
        manifest = self.manifest()
        if manifest.pop(doc_id, None) is not None:
            self._write_manifest(manifest)
        self._get().delete(where={"doc_id": doc_id})

    def drop(self) -> None:
        """Delete the whole index (`--rebuild`)."""
        if self._get() is not None:
            self._client.delete_collection(self._name)
        self._collection = None

    # -- chunks ------------------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        collection = self._get()
        for start in range(0, len(chunks), _BATCH):
            batch = chunks[start : start + _BATCH]
            collection.add(
                ids=[c.chunk_id for c in batch],
                embeddings=vectors[start : start + _BATCH],
                documents=[c.text for c in batch],
                metadatas=[c.metadata() for c in batch],
            )

    def purge_stale(self) -> int:
        """Delete chunks that no manifest entry makes visible (left by a replaced or killed run)."""
        collection = self._get()
        if collection is None:
            return 0
        manifest = self.manifest()
        got = collection.get(include=["metadatas"])
        stale = [
            chunk_id
            for chunk_id, meta in zip(got["ids"], got["metadatas"], strict=True)
            if (record := manifest.get(meta["doc_id"])) is None
            or record.version != meta["doc_version"]
        ]
        for start in range(0, len(stale), _BATCH):
            collection.delete(ids=stale[start : start + _BATCH])
        return len(stale)

    def live_chunks(self, manifest: dict[str, DocumentRecord] | None = None) -> list[Chunk]:
        """Every chunk of the visible document versions, in document order."""
        collection = self._get()
        if collection is None:
            return []
        manifest = self.manifest() if manifest is None else manifest
        got = collection.get(include=["documents", "metadatas"])
        chunks = [
            Chunk.from_store(chunk_id, text, meta)
            for chunk_id, text, meta in zip(
                got["ids"], got["documents"], got["metadatas"], strict=True
            )
            if _is_live(meta, manifest)
        ]
        return sorted(chunks, key=lambda c: (c.doc_id, c.ordinal))

    def count(self) -> int:
        collection = self._get()
        return 0 if collection is None else collection.count()

    def search(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """Nearest chunks as (chunk_id, cosine similarity); the caller keeps only live ones."""
        try:
            got = self._get().query(query_embeddings=[vector], n_results=n, include=["distances"])
        except Exception as exc:
            raise StoreUnavailable(
                "errors.store_unavailable", location=self.location, reason=_short(exc)
            ) from exc
        return [
            (chunk_id, 1.0 - float(distance))
            for chunk_id, distance in zip(got["ids"][0], got["distances"][0], strict=True)
        ]


def _is_live(meta: dict, manifest: dict[str, DocumentRecord]) -> bool:
    record = manifest.get(meta["doc_id"])
    return record is not None and record.version == meta["doc_version"]


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
