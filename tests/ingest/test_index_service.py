"""`IndexService`: one definition of "unchanged", hooks in commit order, catalog edits that keep
the staff's file, on a real Chroma in tmp_path with the real e5 model."""

import tomllib
from pathlib import Path

import pytest

from bot.settings import load_settings
from ingest import DocumentInfo, Hooks, Incoming, IndexService
from retrieval.store import ChunkStore
from retrieval.vector_cache import VectorCache

CACAO = "El cacao fino de aroma de Piura se exporta a Bélgica y a los Países Bajos."
PISCO = "El pisco de Moquegua obtuvo la denominación de origen y se exporta a Chile."


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "cacao.txt").write_text(CACAO, encoding="utf-8")
    (folder / "pisco.txt").write_text(PISCO, encoding="utf-8")
    return folder


@pytest.fixture
def index(tmp_path, embedder, counting_embedder):
    counting = counting_embedder(embedder)
    service = IndexService(
        ChunkStore.open(load_settings(data_dir=tmp_path / "data")), VectorCache.over(counting)
    )
    service.counting = counting
    return service


def cacao_info() -> DocumentInfo:
    return DocumentInfo("cacao", "Cacao", "documento", None, None)


def test_an_upload_of_the_indexed_bytes_is_unchanged_and_nothing_is_read(index, corpus, tmp_path):
    index.index([corpus], progress=False)
    staged = tmp_path / "staging" / "cacao.txt"
    staged.parent.mkdir()
    staged.write_text(CACAO, encoding="utf-8")
    index.counting.embedded.clear()

    report = index.index_files([Incoming(staged, cacao_info(), source=corpus / "cacao.txt")])

    assert report.unchanged == ["cacao"] and not (report.added or report.updated)
    assert index.counting.embedded == []
    assert index.manifest()["cacao"].source == str(corpus / "cacao.txt")


def test_the_same_bytes_from_another_file_are_indexed_again_under_their_new_place(
    index, corpus, tmp_path
):
    index.index([corpus], progress=False)
    moved = tmp_path / "otro" / "cacao.txt"
    moved.parent.mkdir()
    moved.write_text(CACAO, encoding="utf-8")
    index.counting.embedded.clear()

    report = index.index_files([Incoming(moved, cacao_info())])

    assert report.updated == ["cacao"]
    assert index.manifest()["cacao"].source == str(moved)
    assert CACAO not in index.counting.embedded  # its sentence's vector was known


def test_hooks_hear_each_document_staged_before_it_is_committed(index, corpus):
    heard = []
    hooks = Hooks(
        progress=lambda done, total, doc_id: heard.append(("progress", doc_id, done, total)),
        staged=lambda doc_id: heard.append(("staged", doc_id)),
        commit=lambda doc_id, record: heard.append(("commit", doc_id, record.chunks)),
    )

    report = index.index([corpus], progress=False, hooks=hooks)

    assert [e[:2] for e in heard if e[0] != "progress"] == [
        ("staged", "cacao"), ("commit", "cacao"), ("staged", "pisco"), ("commit", "pisco"),
    ]  # fmt: skip
    progress = [e for e in heard if e[0] == "progress"]
    assert progress[-1][2:] == (report.chunks, report.chunks)
    (corpus / "pisco.txt").unlink()
    removed = []
    index.index([corpus], progress=False, hooks=Hooks(commit=lambda d, r: removed.append((d, r))))
    assert removed == [("pisco", None)] and set(index.manifest()) == {"cacao"}


def test_a_catalog_edit_keeps_the_staff_comments_order_and_other_entries(tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        "# Catálogo del corpus: lo mantiene el equipo.\n"
        '["b.pdf"]\ntitle = "Plan B"  # título oficial\n\n'
        '["a.pdf"]\ntitle = "Plan A"\nyear = 2020\n',
        encoding="utf-8",
    )

    IndexService.write_catalog_entry(tmp_path / "a.pdf", {"title": "Plan A", "year": 2021})
    IndexService.write_catalog_entry(tmp_path / "c.md", {"title": "Nuevo", "doc_id": "nuevo"})

    text = catalog.read_text(encoding="utf-8")
    assert text.startswith("# Catálogo del corpus: lo mantiene el equipo.\n")
    assert 'title = "Plan B"  # título oficial' in text
    assert text.index('["b.pdf"]') < text.index('["a.pdf"]') < text.index('["c.md"]')
    assert tomllib.loads(text) == {
        "b.pdf": {"title": "Plan B"},
        "a.pdf": {"title": "Plan A", "year": 2021},
        "c.md": {"title": "Nuevo", "doc_id": "nuevo"},
    }
    assert IndexService.catalog_entry("nuevo", tmp_path / "c.md", {"title": "Nuevo"}) is None
