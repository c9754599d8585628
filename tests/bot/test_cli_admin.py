"""`exporta ingest|remove|history` record versions and audit; `serve` and `telegram` get the jobs."""

import getpass

import pytest

from bot.admin.audit import AuditLog
from bot.admin.joblog import Job, JobLog
from bot.admin.jobs import JobRunner
from bot.admin.lock import JobLock
from bot.cli import main
from bot.compose import index_service, web_app
from bot.settings import load_settings
from prompts import message
from retrieval.store import ChunkStore

CACAO = "El cacao fino de aroma de Piura se exporta a Bélgica y a los Países Bajos."
QUINUA = "La quinua orgánica de Puno se exporta a Canadá con certificación orgánica."


@pytest.fixture
def indexed_dir(tmp_path, monkeypatch, capsys):
    """A two-document corpus indexed with `exporta ingest`; the environment points at it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cacao.txt").write_text(CACAO, encoding="utf-8")
    (corpus / "quinua.txt").write_text(QUINUA, encoding="utf-8")
    monkeypatch.setenv("EXPORTA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EXPORTA_CORPUS_DIR", str(corpus))
    assert main(["ingest", "-q"]) == 0
    capsys.readouterr()
    return tmp_path


def test_ingest_remove_and_history_record_who_did_what(indexed_dir, capsys):
    settings = load_settings()
    actor = f"cli:{getpass.getuser()}"
    assert main(["remove", "cacao"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Listo: «cacao» ya no se cita. Tarea ")
    assert "cacao" not in ChunkStore.open(settings).manifest()
    assert not (settings.corpus_dir / "cacao.txt").exists()

    assert main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == message("admin.history_heading", count=3)
    assert " · cacao · quitado · 0 fragmentos · sha256 " in lines[1]
    assert lines[1].endswith(f" · por {actor}")
    assert {line.split(" · ")[1:3][0] for line in lines[2:]} == {"cacao", "quinua"}
    assert all(" · añadido · 1 fragmentos · " in line for line in lines[2:])

    assert main(["history", "quinua"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    audit = [(e["actor"], e["action"], e["result"]) for e in AuditLog(settings).entries()]
    assert audit == [
        (actor, "remove", "succeeded"),
        (actor, "remove", "started"),
        (actor, "reindex", "succeeded"),
        (actor, "reindex", "started"),
    ]


def test_an_unknown_document_is_a_spanish_error_with_exit_code_2(indexed_dir, capsys):
    assert main(["remove", "no-existe"]) == 2
    expected = f"Error: {message('admin.document_not_found', doc_id='no-existe')}\n"
    assert capsys.readouterr().err == expected
    assert main(["history", "no-existe"]) == 2
    assert capsys.readouterr().err == expected


def test_a_command_while_a_job_runs_says_so_with_exit_code_2(indexed_dir, capsys):
    settings = load_settings()
    other_process = JobLock(settings.data_dir / "admin-job.lock")
    assert other_process.try_acquire("20250101-120000-abcdef")
    try:
        assert main(["remove", "cacao"]) == 2
        assert main(["ingest", "-q"]) == 2
    finally:
        other_process.release()
    busy = message("admin.job_busy", job_id="20250101-120000-abcdef")
    assert capsys.readouterr().err == f"Error: {busy}\n" * 2
    assert "cacao" in ChunkStore.open(settings).manifest()


def test_serve_builds_one_recovered_job_runner_only_for_staff(indexed_dir, capsys):
    settings = load_settings()
    dead = Job("20250101-000000-dead00", "remove", "running", "web:1", "2025-01-01T00:00:00+00:00")
    JobLog(settings).insert(dead, [])
    assert web_app(settings).state.web.admin is None  # no admin token: no staff jobs

    app = web_app(load_settings(admin_token="secreto"))
    assert isinstance(app.state.web.admin, JobRunner)
    assert app.state.web.audit is app.state.web.admin.audit
    assert app.state.web.admin.job(dead.id).state == "interrupted"  # recovered at startup
    assert "Aviso: La tarea se interrumpió" in capsys.readouterr().err


def test_telegram_staff_get_the_job_runner_only_with_staff_ids(indexed_dir, service):
    from bot.telegram import build_application

    settings = load_settings(telegram_staff_ids="42", telegram_token="123:prueba")
    runner = JobRunner(settings, index_service(settings, lambda: None))
    nobody = load_settings(telegram_token="123:prueba")
    assert build_application(service, nobody, jobs=runner).bot_data["staff"].jobs is None
    assert build_application(service, settings, jobs=runner).bot_data["staff"].jobs is runner
