"""The audit log stays bounded: refusals counted per client and window, old entries purged."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from bot.admin import audit as audit_module
from bot.admin.audit import REFUSALS_WINDOW, AuditLog
from bot.settings import load_settings

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Every test runs on SQLite and on PostgreSQL (tests/conftest.py: on_both_databases).
pytestmark = pytest.mark.usefixtures("on_both_databases")


@pytest.fixture
def clock(monkeypatch):
    """The audit log's notion of now, moved by the test."""
    now = [START]
    monkeypatch.setattr(audit_module, "utc_now", lambda: now[0])
    return now


def test_refusals_of_one_client_share_a_row_per_window_and_others_keep_their_own(tmp_path, clock):
    log = AuditLog(load_settings(data_dir=tmp_path))
    for minute in range(5):
        clock[0] = START + timedelta(minutes=minute)
        log.record("web:10.0.0.1", "GET", f"/api/admin/jobs/{minute}", "unauthorized", "sin token")
    log.record("web:10.0.0.2", "GET", "/api/admin/jobs", "unauthorized", "sin token")
    log.record("web:10.0.0.1", "reindex", "todo", "started", "job-1")  # not a refusal
    log.record("web:10.0.0.1", "reindex", "todo", "started", "job-2")
    clock[0] = START + REFUSALS_WINDOW + timedelta(seconds=1)
    log.record("web:10.0.0.1", "POST", "/api/admin/reindex", "unauthorized", "token incorrecto")

    rows = [(e["actor"], e["target"], e["result"], e["count"]) for e in reversed(log.entries())]
    assert rows == [
        ("web:10.0.0.1", "/api/admin/jobs/4", "unauthorized", 5),
        ("web:10.0.0.2", "/api/admin/jobs", "unauthorized", 1),
        ("web:10.0.0.1", "todo", "started", 1),
        ("web:10.0.0.1", "todo", "started", 1),
        ("web:10.0.0.1", "/api/admin/reindex", "unauthorized", 1),  # a new window
    ]
    first = log.entries()[-1]
    assert first["at"] == START.isoformat()
    assert first["last_at"] == (START + timedelta(minutes=4)).isoformat()


def test_entries_past_the_retention_period_are_purged(tmp_path, clock):
    log = AuditLog(load_settings(data_dir=tmp_path, audit_retention_days=30))
    log.record("cli:ana", "add", "perx", "started", "job-1")
    clock[0] = START + timedelta(days=20)
    log.record("cli:ana", "add", "pnmce", "started", "job-2")

    assert log.purge(START + timedelta(days=31)) == 1
    assert [e["target"] for e in log.entries()] == ["pnmce"]


def test_a_purge_is_due_at_most_hourly_when_entries_are_written(tmp_path, clock):
    log = AuditLog(load_settings(data_dir=tmp_path, audit_retention_days=1))
    log.record("cli:ana", "add", "perx", "started", "job-1")
    clock[0] = START + timedelta(days=2)
    log.record("cli:ana", "add", "pnmce", "started", "job-2")  # purges: the first was at START
    assert [e["target"] for e in log.entries()] == ["pnmce"]


def test_an_audit_log_written_by_an_older_version_gains_the_count_columns(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    engine = create_engine(settings.sql_url())
    postgres = engine.dialect.name == "postgresql"
    moment = "TIMESTAMP WITH TIME ZONE" if postgres else "VARCHAR(32)"
    ident = "SERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY"
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE audit_log (id {ident}, at {moment} NOT NULL, "
                "actor VARCHAR(200) NOT NULL, action VARCHAR(64) NOT NULL, "
                "target VARCHAR(500) NOT NULL, result VARCHAR(32) NOT NULL, detail TEXT NOT NULL)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, target, result, detail) VALUES "
                "('2026-03-01 12:00:00.000000', 'web:1.2.3.4', 'GET', '/api/admin/jobs', "
                "'unauthorized', 'sin token')"
            )
        )
    engine.dispose()

    log = AuditLog(settings)
    [old] = log.entries()
    assert (old["count"], old["last_at"]) == (1, None)
    log.record("web:1.2.3.4", "GET", "/api/admin/audit", "unauthorized", "sin token")
    assert [e["count"] for e in log.entries()] == [1, 1]  # the old row's window is long gone
