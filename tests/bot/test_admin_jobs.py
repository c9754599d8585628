"""Staff re-index jobs over a real Chroma in tmp_path, the real e5 model and a real service."""

import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from bot.admin.jobs import DocumentNotFound, JobBusy, JobRunner
from bot.admin.uploads import Upload, UploadRejected
from bot.compose import index_service
from prompts import message
from retrieval.service import AnswerService
from retrieval.store import ChunkStore
from retrieval.text import content_terms

CACAO = "El cacao fino de aroma de Piura se exporta a Bélgica y a los Países Bajos."
CACAO_QUESTION = "¿A qué países se exporta el cacao fino de aroma de Piura?"
QUINUA = "La quinua orgánica de Puno se exporta a Canadá con certificación orgánica."
QUINUA_QUESTION = "¿A dónde se exporta la quinua orgánica de Puno?"
CHINA_QUESTION = "¿Qué exige China para exportar moluscos?"
GERCETUR_QUESTION = "¿Qué es la GERCETUR?"
STEPS_OF = {
    "replace": ["staged", "chunks_added", "committed", "completed"],
    "add": ["staged", "chunks_added", "committed"],
    "remove": ["staged", "committed"],
}
COMMITTED = {"committed", "completed"}


class MemoEmbedder:
    """The real model, each passage embedded once per test module (indexing the same fixture
    corpus in every test would otherwise spend most of the suite's time re-embedding it)."""

    def __init__(self, model) -> None:
        self.model, self.identity, self.vectors = model, model.identity, {}

    def embed_passages(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.model.embed_passages(missing), strict=True))
        return np.stack([self.vectors[t] for t in texts])

    def embed_query(self, text):
        return self.model.embed_query(text)


@pytest.fixture(scope="module")
def passages(embedder) -> MemoEmbedder:
    return MemoEmbedder(embedder)


class Killed(BaseException):
    """Stands for the process dying at a step: no handler of the job runs, only `finally`."""


@pytest.fixture
def settings(tmp_path, fixture_corpus, on_both_databases):
    """Jobs, versions and audit on SQLite, then on PostgreSQL (EXPORTA_DATABASE_URL)."""
    from bot.settings import load_settings

    return load_settings(data_dir=tmp_path / "data", corpus_dir=fixture_corpus)


@pytest.fixture
def runner(settings, passages) -> JobRunner:
    """A runner over the fixture corpus, indexed as `exporta ingest` does."""
    jobs = JobRunner(settings, index_service(settings, lambda: passages))
    report = jobs.ingest_now([settings.corpus_dir], "cli:prueba", progress=False)
    assert not report.failed
    return jobs


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(settings) -> dict:
    return ChunkStore.open(settings).manifest(fresh=True)


def assert_consistent(settings) -> None:
    """No invisible chunks, corpus files matching the visible versions, nothing half-written."""
    store = ChunkStore.open(settings)
    records = store.manifest(fresh=True)
    assert store.count() == sum(r.chunks for r in records.values()) == len(store.live_chunks())
    for record in records.values():
        assert sha256(Path(record.source)) == record.content_hash, record.doc_id
    indexed = {Path(r.source).name for r in records.values()}
    files = {p.name for p in settings.corpus_dir.iterdir() if p.name != "catalog.toml"}
    assert files == indexed  # no half-copied, orphaned or hidden files
    staging = settings.data_dir / "staging"
    assert not staging.exists() or not any(staging.iterdir())


def cited(service: AnswerService, question: str) -> set[str]:
    return {s.doc_id for s in service.answer(question).sources}


def answered_by(service: AnswerService, question: str) -> str | None:
    """The document of the first source of a real (not abstained) answer."""
    answer = service.answer(question)
    return None if answer.abstained else answer.sources[0].doc_id


def test_adding_a_document_makes_it_answerable_with_its_version_and_audit(
    runner, settings, embedder
):
    upload = Upload("Cacao Piura.txt", CACAO.encode(), title="Estudio del cacao", year=2024)
    job = runner.wait(runner.add_documents([upload], "web:10.0.0.1").id)

    assert (job.state, job.doc_ids, job.done, job.total) == ("succeeded", ["cacao-piura"], 1, 1)
    assert job.summary.startswith("Documentos: 1 añadidos")
    record = manifest(settings)["cacao-piura"]
    assert (record.title, record.year, Path(record.source).name) == (
        "Estudio del cacao", 2024, "Cacao-Piura.txt"
    )  # fmt: skip
    assert_consistent(settings)
    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    assert answered_by(service, CACAO_QUESTION) == "cacao-piura"

    [version] = runner.versions.history("cacao-piura")
    assert (version.action, version.indexed_by, version.chunks) == ("added", "web:10.0.0.1", 1)
    assert version.content_hash == hashlib.sha256(CACAO.encode()).hexdigest()
    audit = [(e["actor"], e["action"], e["result"]) for e in runner.audit.entries(2)]
    assert audit == [("web:10.0.0.1", "add", "succeeded"), ("web:10.0.0.1", "add", "started")]
    # The command line sees the same document: title kept by the catalog, nothing re-indexed.
    report = runner.ingest_now([settings.corpus_dir], "cli:prueba", progress=False)
    assert report.unchanged == sorted(manifest(settings)) and not report.added
    assert manifest(settings)["cacao-piura"].title == "Estudio del cacao"


def test_replacing_keeps_the_id_and_leaves_no_stale_chunk(runner, settings, pdf_builder, tmp_path):
    old = manifest(settings)["plan-regional-demo"]
    data = pdf_builder(tmp_path / "nuevo.pdf", [[QUINUA]]).read_bytes()
    job = runner.wait(
        runner.replace_document("plan-regional-demo", Upload("v2.pdf", data), "web:1").id
    )

    assert job.state == "succeeded" and job.summary.startswith(
        "Documentos: 0 añadidos, 1 actualizados"
    )
    new = manifest(settings)["plan-regional-demo"]
    assert (new.title, new.kind, Path(new.source).name) == (
        old.title,
        old.kind,
        "plan-regional-demo.pdf",
    )
    assert new.content_hash == hashlib.sha256(data).hexdigest() != old.content_hash
    assert_consistent(settings)
    archived = settings.data_dir / "archive" / job.id / "plan-regional-demo.txt"
    assert sha256(archived) == old.content_hash  # the replaced file is kept, out of the corpus
    live = {c.doc_id: c.text for c in ChunkStore.open(settings).live_chunks()}
    assert "APPIM" not in live["plan-regional-demo"] and "quinua" in live["plan-regional-demo"]
    actions = [v.action for v in runner.versions.history("plan-regional-demo")]
    assert actions == ["replaced", "added"]
    report = runner.ingest_now([settings.corpus_dir], "cli:prueba", progress=False)
    assert "plan-regional-demo" in report.unchanged and not report.removed


def test_removing_a_document_hides_it_deletes_its_chunks_and_archives_its_file(runner, settings):
    source = Path(manifest(settings)["estudio-moluscos-demo"].source)
    job = runner.wait(runner.remove_document("estudio-moluscos-demo", "telegram:42").id)

    assert job.state == "succeeded"
    assert job.summary == message("admin.removed_summary", doc_id="estudio-moluscos-demo")
    assert "estudio-moluscos-demo" not in manifest(settings)
    assert not source.exists() and (settings.data_dir / "archive" / job.id / source.name).exists()
    assert_consistent(settings)
    [removed, added] = runner.versions.history("estudio-moluscos-demo")
    assert (removed.action, removed.indexed_by, removed.chunks) == ("removed", "telegram:42", 0)
    assert removed.content_hash == added.content_hash


def test_refusals_touch_nothing_and_are_audited(runner, settings):
    before = sorted(p.name for p in settings.corpus_dir.iterdir())
    with pytest.raises(DocumentNotFound) as missing:
        runner.remove_document("no-existe", "web:1")
    assert str(missing.value) == message("admin.document_not_found", doc_id="no-existe")
    with pytest.raises(UploadRejected) as taken:
        runner.add_documents([Upload("politica-demo.txt", CACAO.encode())], "web:1")
    assert taken.value.code == "exists" and "«politica-demo»" in str(taken.value)
    with pytest.raises(UploadRejected) as bad:
        runner.add_documents([Upload("../../etc/passwd.pdf", b"%PDF-1.4 nada")], "web:1")
    assert bad.value.code == "bad_name"
    with pytest.raises(UploadRejected) as twice:
        runner.add_documents(
            [Upload("a.txt", CACAO.encode()), Upload("a.md", QUINUA.encode())], "w"
        )
    assert twice.value.code == "exists"

    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == before
    assert [j.action for j in runner.recent()] == ["reindex"]  # no job was started
    results = [(e["action"], e["result"]) for e in runner.audit.entries(4)]
    assert results == [("add", "rejected")] * 3 + [("remove", "rejected")]
    assert_consistent(settings)


def test_one_job_at_a_time_even_from_another_process(runner, settings, passages):
    proceed, paused = threading.Event(), threading.Event()

    def hold(step: str) -> None:
        if step == "staged":
            paused.set()
            assert proceed.wait(30)

    runner.checkpoint = hold
    first = runner.add_documents([Upload("cacao.txt", CACAO.encode())], "web:1")
    assert paused.wait(30)
    # Its own lock file handle, as a process has.
    other = JobRunner(settings, index_service(settings, lambda: passages))
    for attempt in (
        lambda: other.add_documents([Upload("quinua.txt", QUINUA.encode())], "web:2"),
        lambda: runner.remove_document("politica-demo", "web:1"),
        lambda: other.ingest_now([settings.corpus_dir], "cli:otra"),
    ):
        with pytest.raises(JobBusy) as busy:
            attempt()
        assert busy.value.job_id == first.id
        assert str(busy.value) == message("admin.job_busy", job_id=first.id)
    assert other.running().id == first.id
    proceed.set()
    assert runner.wait(first.id).state == "succeeded"
    assert other.running() is None
    second = other.add_documents([Upload("quinua.txt", QUINUA.encode())], "web:2")
    assert other.wait(second.id).state == "succeeded"
    assert {"cacao", "quinua"} <= set(manifest(settings))
    assert ("web:2", "busy") in {(e["actor"], e["result"]) for e in runner.audit.entries()}


def test_questions_are_answered_throughout_and_see_each_commit(runner, settings, embedder):
    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    runner.on_commit = service.refresh
    answers, failures, stop = [], [], threading.Event()
    during_job = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                answers.append(service.answer(CHINA_QUESTION))
            except Exception as exc:  # any failure while a job runs is the bug under test
                failures.append(exc)

    def staged_but_not_visible(step: str) -> None:
        if step == "chunks_added":  # the new version is embedded and stored, not yet visible
            count = len(answers)
            assert "cacao" not in {r.doc_id for r in service.documents()}
            while len(answers) < count + 3 and not failures:
                threading.Event().wait(0.01)
            during_job.set()

    runner.checkpoint = staged_but_not_visible
    asker = threading.Thread(target=ask)
    asker.start()
    try:
        added = runner.wait(runner.add_documents([Upload("cacao.txt", CACAO.encode())], "web:1").id)
        removed = runner.wait(runner.remove_document("estudio-moluscos-demo", "web:1").id)
    finally:
        stop.set()
        asker.join()

    assert (added.state, removed.state, failures) == ("succeeded", "succeeded", [])
    assert during_job.is_set() and len(answers) >= 3
    assert any(a.sources[0].doc_id == "estudio-moluscos-demo" for a in answers)  # before removal
    documents = {r.doc_id for r in service.documents()}
    assert "cacao" in documents and "estudio-moluscos-demo" not in documents
    assert answered_by(service, CACAO_QUESTION) == "cacao"
    assert "estudio-moluscos-demo" not in cited(service, CHINA_QUESTION)
    retrieved = service.retriever.retrieve("China moluscos FONDEPES zoo-fitosanitarios", 20)
    assert all(r.chunk.doc_id != "estudio-moluscos-demo" for r in retrieved)
    assert not service.retriever.knows(content_terms("FONDEPES")[0])  # gone from BM25 too
    assert_consistent(settings)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(
    ("action", "step"), [(a, s) for a, steps in STEPS_OF.items() for s in steps]
)
def test_a_job_killed_at_any_step_leaves_one_whole_version_and_recovers(
    runner, settings, embedder, passages, action, step
):
    def die(at: str) -> None:
        if at == step:
            raise Killed(at)

    old = manifest(settings)
    runner.checkpoint = die
    if action == "add":
        job = runner.add_documents([Upload("cacao.txt", CACAO.encode())], "web:1")
    elif action == "replace":
        job = runner.replace_document("plan-regional-demo", Upload("v2.md", QUINUA.encode()), "w")
    else:
        job = runner.remove_document("estudio-moluscos-demo", "web:1")
    assert runner.wait(job.id).state == "running"  # dead, as a killed process leaves it

    [recovered] = JobRunner(settings, index_service(settings, lambda: passages)).recover()
    assert (recovered.id, recovered.state) == (job.id, "interrupted")
    assert_consistent(settings)
    now = manifest(settings)
    committed = step in COMMITTED
    if action == "add":
        assert ("cacao" in now) == committed
    elif action == "replace":
        changed = now["plan-regional-demo"].content_hash != old["plan-regional-demo"].content_hash
        assert changed == committed
    else:
        assert ("estudio-moluscos-demo" not in now) == committed
    assert {k: v for k, v in now.items() if k not in job.doc_ids} == {
        k: v for k, v in old.items() if k not in job.doc_ids
    }
    recorded = [v for v in runner.versions.history(job.doc_ids[0]) if v.job_id == job.id]
    assert len(recorded) == committed

    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    china = "estudio-moluscos-demo" in cited(service, CHINA_QUESTION)
    assert china == (action != "remove" or not committed)
    if action == "add":
        assert (answered_by(service, CACAO_QUESTION) == "cacao") == committed
    if action == "replace":
        assert (answered_by(service, QUINUA_QUESTION) == "plan-regional-demo") == committed
    runner.checkpoint = lambda at: None
    after = runner.add_documents([Upload("quinua-puno.txt", QUINUA.encode())], "web:1")
    assert runner.wait(after.id).state == "succeeded"
    assert_consistent(settings)


KILLER = """
import os, sys
from pathlib import Path
from bot.admin.jobs import JobRunner
from bot.admin.uploads import Upload
from bot.compose import index_service
from retrieval.embeddings import E5Embedder
from bot.settings import load_settings

settings = load_settings(data_dir=Path(sys.argv[1]), corpus_dir=Path(sys.argv[2]))
embedder = E5Embedder()
runner = JobRunner(settings, index_service(settings, lambda: embedder))
runner.ingest_now([settings.corpus_dir], "cli:prueba", progress=False)
def die(step):
    if step == "chunks_added":
        os._exit(9)
runner.checkpoint = die
job = runner.replace_document("plan-regional-demo", Upload("v2.txt", sys.argv[3].encode()), "web:1")
runner.wait(job.id)
sys.exit(0)
"""


@pytest.mark.parametrize("setup", ["embedded", "chroma run + PostgreSQL"])
def test_a_process_killed_during_staging_leaves_the_old_version_answering(
    tmp_path, fixture_corpus, embedder, setup, request, monkeypatch
):
    """kill -9 of the process mid-reindex: embedded Chroma and SQLite, or the servers' setup."""
    from bot.settings import load_settings

    if setup != "embedded":  # the killed process and this one read them from the environment
        monkeypatch.setenv("EXPORTA_CHROMA_URL", request.getfixturevalue("chroma_server"))
        monkeypatch.setenv(
            "EXPORTA_DATABASE_URL", request.getfixturevalue("postgres").new_database()
        )
    settings = load_settings(data_dir=tmp_path / "data", corpus_dir=fixture_corpus)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    died = subprocess.run(
        [sys.executable, "-c", KILLER, str(settings.data_dir), str(fixture_corpus), QUINUA],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert died.returncode == 9, died.stderr
    old_text = (fixture_corpus / "plan-regional-demo.txt").read_text(encoding="utf-8")
    store = ChunkStore.open(settings)
    assert store.count() > sum(r.chunks for r in store.manifest().values())  # staged, invisible

    runner = JobRunner(settings, index_service(settings, lambda: embedder))
    [job] = runner.recover()
    assert job.state == "interrupted" and "plan-regional-demo" in job.summary
    assert_consistent(settings)
    record = manifest(settings)["plan-regional-demo"]
    assert record.content_hash == hashlib.sha256(old_text.encode()).hexdigest()
    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    assert answered_by(service, GERCETUR_QUESTION) == "plan-regional-demo"
    assert answered_by(service, QUINUA_QUESTION) != "plan-regional-demo"

    upload = Upload("v2.txt", QUINUA.encode())
    again = runner.wait(runner.replace_document("plan-regional-demo", upload, "web:1").id)
    assert again.state == "succeeded"
    service.refresh()
    assert answered_by(service, QUINUA_QUESTION) == "plan-regional-demo"
    assert_consistent(settings)


def test_reindexing_the_corpus_records_what_changed(runner, settings):
    (settings.corpus_dir / "politica-demo.md").write_text(f"# Política\n\n{CACAO}\n", "utf-8")
    (settings.corpus_dir / "plan-regional-demo.txt").unlink()
    job = runner.wait(runner.reindex("web:1").id)

    assert job.state == "succeeded" and job.done == job.total > 0
    assert job.doc_ids == ["politica-demo", "plan-regional-demo"]
    latest = {v.doc_id: v.action for v in reversed(runner.versions.history())}
    assert latest["politica-demo"] == "replaced" and latest["plan-regional-demo"] == "removed"
    assert_consistent(settings)


def test_documents_api_shows_each_version_without_staff_identities(runner, settings, embedder):
    from fastapi.testclient import TestClient

    from bot.web import create_app

    runner.wait(runner.add_documents([Upload("cacao.txt", CACAO.encode())], "web:10.1.2.3").id)
    upload = Upload("cacao.txt", QUINUA.encode())
    runner.wait(runner.replace_document("cacao", upload, "telegram:777").id)
    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    with TestClient(create_app(service, settings)) as client:
        documents = {d["doc_id"]: d for d in client.get("/api/documents").json()["documents"]}
        detail = client.get("/api/documents/cacao").json()
    history = documents["cacao"]["history"]
    assert [(h["action"], h["indexed_by"], h["chunks"]) for h in history] == [
        ("replaced", "telegram", 1),
        ("added", "web", 1),
    ]
    assert history[0]["content_hash"] == documents["cacao"]["content_hash"]
    assert detail["history"] == history
    assert [h["action"] for h in documents["politica-demo"]["history"]] == ["added"]
    assert "10.1.2.3" not in str(documents) and "777" not in str(documents)


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MB tmpfs, as a data folder's disk that can fill up (needs root, as in CI)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_disk_that_fills_during_a_reindex_fails_the_job_and_keeps_the_old_version(
    small_disk, tmp_path, fixture_corpus, passages, pdf_builder
):
    from bot.settings import load_settings

    settings = load_settings(
        data_dir=small_disk / "data",  # the index fills the disk; the database is elsewhere
        corpus_dir=fixture_corpus,
        database_url=f"sqlite:///{tmp_path / 'exporta.db'}",
    )
    runner = JobRunner(settings, index_service(settings, lambda: passages))
    assert not runner.ingest_now([fixture_corpus], "cli:prueba", progress=False).failed
    service = AnswerService(ChunkStore.open(settings), passages, settings)
    before = manifest(settings)
    filler = small_disk / "relleno"
    with filler.open("wb") as out:  # leave the index almost no room
        while os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize > 64 * 1024:
            out.write(b"\0" * 64 * 1024)
            out.flush()
    pages = [
        [f"{QUINUA} Lote {i}: " + "certificación orgánica y trazabilidad " * 20] for i in range(40)
    ]
    data = pdf_builder(tmp_path / "grande.pdf", pages).read_bytes()

    job = runner.wait(
        runner.replace_document("plan-regional-demo", Upload("v2.pdf", data), "web:1").id
    )

    assert job.state == "failed" and message("admin.disk_full") in job.summary
    filler.unlink()  # the disk has room again: the old version was never touched
    assert manifest(settings) == before
    assert answered_by(service, "que significa APPIM") == "plan-regional-demo"
    assert runner.running() is None
