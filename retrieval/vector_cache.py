"""Vectors of embedded texts, by embedding model and text hash: no text is embedded twice.

A vector is looked up in the bundled files first (`vectors.npz` beside a corpus, committed with it,
so a fresh clone indexes the bundled corpus without embedding anything), then in the local cache
(`<data_dir>/vectors.sqlite`, every text this installation embedded: answer units and chunk contexts).
Only texts found in neither are embedded. Every vector is kept at float16 precision, cached or not,
so an index built from cached vectors is the very index built from freshly computed ones.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from retrieval.embeddings import Embedder

logger = logging.getLogger(__name__)

VECTORS_FILE = "vectors.npz"
LOCAL_VECTORS_FILE = "vectors.sqlite"
VECTOR_DTYPE = "<f2"
_LOOKUP_BATCH = 500


def text_key(text: str) -> str:
    """Identity of an embedded text: equal texts share one vector."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class VectorCache:
    """Vectors for texts under one embedding model: bundled, cached locally, or embedded now."""

    def __init__(
        self,
        model: str,
        embedder_factory: Callable[[], Embedder],
        local: Path | None = None,
        bundled: Iterable[Path] = (),
        reuse: bool = True,
    ) -> None:
        """`reuse=False` embeds every text again (and keeps the new vectors in `local`)."""
        self.model = model
        self._reuse = reuse
        self._embedder_factory = embedder_factory
        self._embedder: Embedder | None = None
        self._known: dict[str, np.ndarray] = {}
        self._loaded: set[Path] = set()
        self._guard = threading.Lock()
        self._local = local
        self._db = _open_local(local) if local is not None else None
        self.reused = 0  # texts whose vector was found
        self.embedded = 0  # texts embedded by this cache
        for path in bundled:
            self.load_bundled(path)

    @classmethod
    def over(cls, embedder: Embedder, **options) -> VectorCache:
        """A cache in front of a model already loaded."""
        return cls(embedder.identity, lambda: embedder, **options)

    def recomputing(self) -> VectorCache:
        """A cache under the same model and local file that embeds every text again."""
        return VectorCache(self.model, self._embedder_factory, local=self._local, reuse=False)

    def load_bundled(self, path: Path) -> None:
        """Add the vectors of a `vectors.npz` file (ignored when absent or for another model)."""
        path = path.resolve()
        if not self._reuse or path in self._loaded or not path.is_file():
            return
        self._loaded.add(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                model, keys, vectors = str(data["model"]), data["keys"], data["vectors"]
        except (OSError, KeyError, ValueError) as exc:
            logger.warning("%s: archivo de vectores ilegible, se ignora (%s)", path, exc)
            return
        if model != self.model:
            logger.info("%s: vectores de otro modelo (%s), se ignoran", path, model)
            return
        self._known.update(zip(keys.tolist(), vectors, strict=True))
        logger.info("%s: %d vectores incluidos", path, len(keys))

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 row per text (float16 precision), embedding only the unknown texts."""
        keys = [text_key(t) for t in texts]
        with self._guard:
            if self._reuse:
                self._fetch_local({k for k in keys if k not in self._known})
            new = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._known}
            self.reused += len(keys) - len(new)
            if new:
                self._embed(new)
            rows = [self._known[k] for k in keys]
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(rows).astype(np.float32)

    def export(self, texts: Iterable[str], path: Path) -> int:
        """Write the vectors of `texts` to a `vectors.npz` file; the number of vectors written."""
        unique = sorted({text_key(t): t for t in texts}.items())
        vectors = self.vectors([t for _, t in unique]).astype(VECTOR_DTYPE)
        keys = np.array([k for k, _ in unique], dtype="U32")
        partial = path.with_name(path.name + ".partial.npz")
        np.savez_compressed(partial, model=np.array(self.model), keys=keys, vectors=vectors)
        os.replace(partial, path)  # a killed export leaves the previous file whole
        return len(keys)

    def _embed(self, new: dict[str, str]) -> None:
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        keys = list(new)
        vectors = self._embedder.embed_passages([new[k] for k in keys]).astype(VECTOR_DTYPE)
        self._known.update(zip(keys, vectors, strict=True))
        self.embedded += len(keys)
        if self._db is not None:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors (model, key, vector) VALUES (?, ?, ?)",
                    [(self.model, k, v.tobytes()) for k, v in zip(keys, vectors, strict=True)],
                )

    def _fetch_local(self, keys: set[str]) -> None:
        if self._db is None or not keys:
            return
        wanted = sorted(keys)
        for start in range(0, len(wanted), _LOOKUP_BATCH):
            part = wanted[start : start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({marks})",
                [self.model, *part],
            )
            for key, blob in rows:
                self._known[key] = np.frombuffer(blob, dtype=VECTOR_DTYPE)


def _open_local(path: Path) -> sqlite3.Connection:
    """The local cache; several processes may write it (WAL, waiting for each other's writes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS vectors ("
        " model TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, key))"
    )
    return db
