"""The vector cache: bundled `vectors.npz` files, the local cache, and an index built from them."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from bot.settings import load_settings
from ingest import IndexService
from ingest.pipeline import embedded_texts
from retrieval.service import AnswerService
from retrieval.store import ChunkStore
from retrieval.vector_cache import LOCAL_VECTORS_FILE, VECTORS_FILE, VectorCache, text_key

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [
    "¿Qué es la VUCE?",
    "¿quién es responsable del servicio de asistencia técnica?",
    "metas de asistencia tecnica 2009",
    "¿Qué exige China para los moluscos?",
    "¿cuántos pescadores artesanales hay?",
]


def refuse_to_load():
    raise AssertionError("the model was loaded though every vector was bundled")


def test_a_text_is_embedded_once_and_kept_at_float16_precision(
    tmp_path, embedder, counting_embedder
):
    counting = counting_embedder(embedder)
    local = tmp_path / LOCAL_VECTORS_FILE
    first = VectorCache.over(counting, local=local)

    vectors = first.vectors(["café de Chanchamayo", "pisco de Ica", "café de Chanchamayo"])
    again = VectorCache(embedder.identity, refuse_to_load, local=local).vectors(["pisco de Ica"])

    assert counting.embedded == ["café de Chanchamayo", "pisco de Ica"]
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.array_equal(vectors, vectors.astype(np.float16).astype(np.float32))
    assert np.array_equal(vectors[0], vectors[2]) and np.array_equal(again[0], vectors[1])
    assert (first.embedded, first.reused) == (2, 1)


def test_bundled_files_of_another_model_or_unreadable_are_ignored(
    tmp_path, embedder, caplog, counting_embedder
):
    texts = ["cacao de Piura", "quinua de Puno"]
    VectorCache.over(embedder).export(texts, tmp_path / "e5.npz")
    (tmp_path / "roto.npz").write_bytes(b"no es un npz")
    counting = counting_embedder(embedder)

    with caplog.at_level(logging.WARNING):
        cache = VectorCache("otro-modelo", lambda: counting, bundled=[tmp_path / "e5.npz"])
        cache.load_bundled(tmp_path / "roto.npz")
        cache.vectors(texts)

    assert counting.embedded == texts
    assert "roto.npz" in caplog.text


def test_an_index_built_from_bundled_vectors_answers_exactly_as_one_from_fresh_vectors(
    tmp_path, fixture_corpus, embedder
):
    corpus = fixture_corpus
    fresh = load_settings(data_dir=tmp_path / "fresh")
    IndexService(ChunkStore.open(fresh), VectorCache.over(embedder)).index([corpus], progress=False)
    VectorCache.over(embedder).export(embedded_texts([corpus]), corpus / VECTORS_FILE)

    cached = load_settings(data_dir=tmp_path / "cached")
    index = IndexService(ChunkStore.open(cached), VectorCache(embedder.identity, refuse_to_load))
    report = index.index([corpus], progress=False)

    assert report.embedded == 0 and report.reused > report.chunks > 0
    assert VECTORS_FILE not in str(report.failed)  # the file beside the documents is not one
    services = [AnswerService(ChunkStore.open(s), embedder, s) for s in (fresh, cached)]
    for question in QUESTIONS:
        first, second = (s.answer(question) for s in services)
        assert first.answer == second.answer and first.abstained == second.abstained
        assert [(x.chunk_id, x.score) for x in first.sources] == [
            (x.chunk_id, x.score) for x in second.sources
        ]


def test_the_committed_vectors_cover_the_bundled_corpus():
    """Fails when the bundled documents or their chunking changed: run `make vectors`."""
    with np.load(ROOT / "corpus" / VECTORS_FILE, allow_pickle=False) as bundled:
        model, keys = str(bundled["model"]), set(bundled["keys"].tolist())
    texts = embedded_texts([ROOT / "corpus"])

    assert model == load_settings().embedding_model
    missing = [t for t in texts if text_key(t) not in keys]
    assert texts and not missing, f"{len(missing)} textos sin vector: ejecute `make vectors`"


def test_the_export_replaces_the_file_whole(tmp_path, embedder):
    path = tmp_path / VECTORS_FILE
    cache = VectorCache.over(embedder)
    cache.export(["uno", "dos"], path)
    cache.export(["tres"], path)

    with np.load(path, allow_pickle=False) as data:
        assert data["keys"].tolist() == [text_key("tres")]
        assert data["vectors"].dtype == np.float16 and data["vectors"].shape == (1, 384)
    assert [p.name for p in tmp_path.iterdir()] == [VECTORS_FILE]


def test_recomputing_embeds_every_text_again_and_keeps_the_new_vectors(
    tmp_path, embedder, counting_embedder
):
    local, bundled = tmp_path / LOCAL_VECTORS_FILE, tmp_path / VECTORS_FILE
    VectorCache.over(embedder, local=local).export(["maca de Junín"], bundled)
    counting = counting_embedder(embedder)

    VectorCache.over(counting, local=local, bundled=[bundled], reuse=False).vectors(
        ["maca de Junín"]
    )

    assert counting.embedded == ["maca de Junín"]
