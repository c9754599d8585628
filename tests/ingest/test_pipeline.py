"""Incremental indexing into a real Chroma in tmp_path, with the real e5 model."""

import random
from pathlib import Path

import numpy as np
import pytest
from fpdf import FPDF

import ingest.loaders
import ingest.pipeline
from bot.settings import load_settings
from ingest import IndexService, IngestReport
from ingest.pipeline import PIPELINE_VERSION
from prompts import message
from retrieval.errors import ModelMismatch
from retrieval.service import AnswerService
from retrieval.store import ChunkStore
from retrieval.units import Unit
from retrieval.vector_cache import LOCAL_VECTORS_FILE, VectorCache

CACAO = "El cacao fino de aroma de Piura se exporta a Bélgica y a los Países Bajos."
PISCO = "El pisco de Moquegua obtuvo la denominación de origen y se exporta a Chile."
QUINUA = "La quinua orgánica de Puno llega a Estados Unidos y a Canadá."
DOCS = {"cacao.txt": CACAO, "pisco.txt": PISCO, "quinua.txt": QUINUA}


class Killed(Exception):
    """Stands for the process dying in the middle of a run."""


@pytest.fixture
def settings(tmp_path):
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def run(settings, embedder):
    """Run the pipeline as `exporta ingest` does, on a freshly opened store."""

    def run_ingest(*paths: Path, model=embedder, ocr="auto", **options) -> IngestReport:
        store = ChunkStore.open(settings)
        vectors = VectorCache.over(model, local=settings.data_dir / LOCAL_VECTORS_FILE)
        return IndexService(store, vectors, ocr).index(list(paths), progress=False, **options)

    return run_ingest


def live_texts(settings) -> dict[str, str]:
    return {c.doc_id: c.text for c in ChunkStore.open(settings).live_chunks()}


def assert_no_stale_chunks(settings) -> None:
    store = ChunkStore.open(settings)
    assert store.count() == sum(r.chunks for r in store.manifest().values())
    assert len(store.live_chunks()) == store.count()


def test_first_run_indexes_every_document_with_its_metadata(corpus, run, settings):
    (corpus / "catalog.toml").write_text(
        '["cacao.txt"]\ntitle = "Estudio del cacao"\nkind = "estudio"\nyear = 2021\n'
        'region = "Piura"\n',
        encoding="utf-8",
    )
    (corpus / ".~lock.cacao.txt#").write_text("bloqueo", encoding="utf-8")
    (corpus / ".cache").mkdir()
    (corpus / ".cache" / "notas.bin").write_bytes(b"\x00")

    report = run(corpus)

    assert sorted(report.added) == ["cacao", "pisco", "quinua"]
    assert (report.failed, report.chunks) == ([], 3)
    manifest = ChunkStore.open(settings).manifest()
    assert {d: (r.title, r.kind, r.year, r.region) for d, r in manifest.items()} == {
        "cacao": ("Estudio del cacao", "estudio", 2021, "Piura"),
        "pisco": ("Pisco", "documento", None, None),
        "quinua": ("Quinua", "documento", None, None),
    }
    cacao = manifest["cacao"]
    assert cacao.source == str((corpus / "cacao.txt").resolve())
    assert cacao.content_hash == ingest.loaders.content_hash(corpus / "cacao.txt")
    assert (cacao.chunks, cacao.pipeline) == (1, PIPELINE_VERSION)
    assert cacao.indexed_at.endswith("+00:00")
    assert live_texts(settings) == {"cacao": CACAO, "pisco": PISCO, "quinua": QUINUA}


def test_second_run_skips_unchanged_documents_without_loading_the_model(
    corpus, run, settings, embedder
):
    run(corpus)
    loads = []

    vectors = VectorCache(embedder.identity, lambda: loads.append(1) or embedder)
    report = IndexService(ChunkStore.open(settings), vectors).index([corpus], progress=False)

    assert sorted(report.unchanged) == ["cacao", "pisco", "quinua"]
    assert (report.added, report.updated, report.removed, report.chunks) == ([], [], [], 0)
    assert loads == []
    assert_no_stale_chunks(settings)


def test_changed_document_replaces_its_old_chunks(
    corpus, run, settings, embedder, counting_embedder
):
    run(corpus)
    new_quinua = "La quinua roja de Puno ahora también llega a Alemania."
    (corpus / "quinua.txt").write_text(new_quinua, encoding="utf-8")
    counting = counting_embedder(embedder)

    report = run(corpus, model=counting)

    assert (report.updated, sorted(report.unchanged)) == (["quinua"], ["cacao", "pisco"])
    # Its one answer unit; its context («Quinua») was embedded before, the rest is unchanged.
    assert counting.embedded == [new_quinua]
    assert live_texts(settings)["quinua"] == new_quinua
    assert_no_stale_chunks(settings)


def test_deleted_document_leaves_no_trace(corpus, run, settings, embedder):
    run(corpus)
    (corpus / "pisco.txt").unlink()

    report = run(corpus)

    assert report.removed == ["pisco"]
    store = ChunkStore.open(settings)
    assert "pisco" not in store.manifest()
    assert_no_stale_chunks(settings)
    nearest = store.search(embedder.embed_query(PISCO), 10)
    assert nearest and not any(chunk_id.startswith("pisco-") for chunk_id, _ in nearest)
    service = AnswerService(store, embedder, settings)
    answer = service.answer("¿El pisco de Moquegua tiene denominación de origen?")
    assert {s.doc_id for s in answer.sources} == {"cacao", "quinua"}


def test_ingesting_another_folder_keeps_the_documents_of_the_first(corpus, run, settings, tmp_path):
    run(corpus)
    other = tmp_path / "otros"
    other.mkdir()
    (other / "palta.txt").write_text("La palta Hass de Ica se exporta a España.", encoding="utf-8")

    report = run(other)

    assert (report.added, report.removed) == (["palta"], [])
    assert set(ChunkStore.open(settings).manifest()) == {"cacao", "pisco", "quinua", "palta"}


def test_rebuild_starts_from_an_empty_index(corpus, run, settings, tmp_path):
    run(corpus)
    other = tmp_path / "otros"
    other.mkdir()
    (other / "palta.txt").write_text("La palta Hass de Ica se exporta a España.", encoding="utf-8")

    report = run(other, rebuild=True)

    assert (report.added, report.updated, report.unchanged) == (["palta"], [], [])
    assert set(ChunkStore.open(settings).manifest()) == {"palta"}
    assert_no_stale_chunks(settings)


def test_new_pipeline_version_reindexes_every_document(
    corpus, run, settings, embedder, monkeypatch, counting_embedder
):
    run(corpus)
    monkeypatch.setattr(ingest.pipeline, "PIPELINE_VERSION", "siguiente")
    counting = counting_embedder(embedder)

    report = run(corpus, model=counting)

    assert sorted(report.updated) == ["cacao", "pisco", "quinua"]
    assert counting.embedded == []  # same texts: the cached vectors are reused
    store = ChunkStore.open(settings)
    assert {r.pipeline for r in store.manifest().values()} == {"siguiente"}
    assert all(c.doc_version.endswith(".siguiente") for c in store.live_chunks())
    assert_no_stale_chunks(settings)


@pytest.mark.parametrize("dying_step", ["add", "commit_document"])
def test_killed_run_keeps_previous_versions_and_the_next_run_finishes(
    corpus, run, settings, embedder, monkeypatch, dying_step
):
    run(corpus)
    new_texts = {
        "cacao": "El cacao de Piura ahora se exporta también a Suiza.",
        "pisco": "El pisco acholado de Moquegua se exporta a Estados Unidos.",
        "quinua": "La quinua negra de Puno llega a Francia.",
    }
    for doc_id, text in new_texts.items():
        (corpus / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    real_step = getattr(ChunkStore, dying_step)
    done = []

    def step_then_die(self, *args):
        if len(done) == 1:  # the second document (pisco) never finishes
            raise Killed
        real_step(self, *args)
        done.append(1)

    monkeypatch.setattr(ChunkStore, dying_step, step_then_die)
    with pytest.raises(Killed):
        run(corpus)
    monkeypatch.undo()

    assert live_texts(settings) == {"cacao": new_texts["cacao"], "pisco": PISCO, "quinua": QUINUA}
    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    answer = service.answer("¿El pisco de Moquegua tiene denominación de origen?")
    assert answer.sources[0].text == PISCO

    report = run(corpus)

    assert (sorted(report.updated), report.unchanged) == (["pisco", "quinua"], ["cacao"])
    assert live_texts(settings) == new_texts
    assert_no_stale_chunks(settings)


def test_index_built_with_another_model_is_left_untouched(corpus, run, settings, embedder):
    run(corpus)
    (corpus / "palta.txt").write_text("La palta Hass de Ica se exporta a España.", encoding="utf-8")
    other_model = "sentence-transformers:/modelos/otro"

    with pytest.raises(ModelMismatch) as caught:
        vectors = VectorCache(other_model, lambda: embedder)
        IndexService(ChunkStore.open(settings), vectors).index([corpus], progress=False)

    assert "exporta ingest --rebuild" in str(caught.value)
    assert embedder.identity in str(caught.value) and other_model in str(caught.value)
    assert set(ChunkStore.open(settings).manifest()) == {"cacao", "pisco", "quinua"}


def _textless_pdf(path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 80, 40)
    pdf.output(str(path))


def test_bad_files_are_reported_while_the_rest_is_indexed(
    tmp_path, run, settings, embedder, pdf_builder
):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cacao.txt").write_text(CACAO, encoding="utf-8")
    informe = pdf_builder(corpus / "informe.pdf", [["El mango de Piura se exporta por Paita."]])
    run(corpus)

    # The already indexed PDF gets damaged; new files of every bad kind and one good one arrive.
    informe.write_bytes(informe.read_bytes()[:200])
    (corpus / "danado.pdf").write_bytes(random.Random(1).randbytes(3000))
    pdf_builder(corpus / "cifrado.pdf", [["Contenido reservado"]], user_password="clave")
    _textless_pdf(corpus / "escaneado.pdf")
    (corpus / "notas.docx").write_bytes(b"PK\x03\x04 documento de Word")
    (corpus / "metas.xlsx").write_bytes(b"PK\x03\x04 hoja de Excel")
    (corpus / "binario.txt").write_bytes(b"\x00\x01texto\x00" * 40)
    (corpus / "titulos.md").write_text("# Solo un título\n\n## Y un subtítulo\n", encoding="utf-8")
    (corpus / "pisco.md").write_text(f"# Pisco\n\n{PISCO}\n", encoding="utf-8")

    report = run(corpus, ocr="off")  # the scan is refused (OCR itself: tests/ingest/test_ocr.py)

    failed = {Path(path).name: reason for path, reason in report.failed}
    corrupt = message("ingest.corrupt_pdf", reason="\x00").split("\x00")[0]
    assert failed.pop("danado.pdf").startswith(corrupt)
    assert failed.pop("informe.pdf").startswith(corrupt)
    assert failed == {
        "cifrado.pdf": "el PDF está cifrado (protegido con contraseña)",
        "escaneado.pdf": message("ingest.textless_pdf_ocr_off"),
        "notas.docx": "tipo de archivo no admitido (.docx); se admiten .pdf, .txt y .md",
        "metas.xlsx": "tipo de archivo no admitido (.xlsx); se admiten .pdf, .txt y .md",
        "binario.txt": message("ingest.undecodable_text"),
        "titulos.md": "el documento no tiene texto",  # headings only: no chunk to cite
    }
    assert (report.added, report.unchanged, report.removed) == (["pisco"], ["cacao"], [])
    texts = live_texts(settings)
    assert set(texts) == {"cacao", "informe", "pisco"}
    assert "El mango de Piura se exporta por Paita." in texts["informe"]  # previous version kept
    assert_no_stale_chunks(settings)


def test_missing_path_is_reported(tmp_path, run):
    missing = tmp_path / "no-existe.pdf"
    report = run(missing)
    assert report.failed == [(str(missing), "la ruta no existe")]


def test_two_files_with_the_same_doc_id_are_neither_hidden_nor_reindexed(tmp_path, run, settings):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "plan.txt").write_text(CACAO, encoding="utf-8")
    (corpus / "plan.md").write_text(QUINUA, encoding="utf-8")

    first = run(corpus)
    second = run(corpus)

    assert (second.added, second.updated) == ([], [])
    indexed = set(live_texts(settings).values())
    assert len(indexed) + len(first.failed) == 2  # each file indexed or reported, none hidden


def test_a_passage_vector_pools_its_sentences_and_context_by_length():
    units = [
        Unit(text="Responsable: MINCETUR.", kind="fact", position=0),
        Unit(text="a" * 30, kind="sentence", position=1),
        Unit(text="b" * 10, kind="sentence", position=2),
    ]
    texts = [u.text for u in units] + ["Plan > Metas"]
    vectors = np.eye(4, dtype=np.float32)

    pooled = ingest.pipeline.passage_vector(units, texts, vectors)

    expected = np.array([0, 30, 10, len("Plan > Metas")], dtype=np.float32)
    assert np.allclose(pooled, expected / np.linalg.norm(expected))
    only_facts = ingest.pipeline.passage_vector(units[:1], [units[0].text, "todo"], vectors[:2])
    assert np.array_equal(only_facts, vectors[1])  # no sentence: the whole text's own vector
