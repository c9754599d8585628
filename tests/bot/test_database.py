"""The one database: one time representation (aware UTC in and out, Lima time only at display),
and tables that many processes can create at once, on SQLite and PostgreSQL."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text

from bot.admin.audit import AuditLog
from bot.database import UtcDateTime, lima
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def moments_table(url: str):
    engine = create_engine(url)
    table = Table(
        "momentos",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", UtcDateTime, nullable=False),
    )
    table.metadata.create_all(engine)
    return engine, table


def test_moments_come_back_aware_utc_whatever_zone_they_were_given_in(tmp_path):
    engine, table = moments_table(f"sqlite:///{tmp_path / 'm.db'}")
    peru = datetime(2025, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    with engine.begin() as conn:
        conn.execute(insert(table).values(id=1, at=peru))
        conn.execute(insert(table).values(id=2, at=datetime(2025, 3, 2, 4, 31)))  # naive: UTC
        # Rows written before: ISO text with an offset (jobs, audit) and naive DateTime text.
        conn.execute(text("INSERT INTO momentos VALUES (3, '2025-03-02T04:32:00+00:00')"))
        conn.execute(text("INSERT INTO momentos VALUES (4, '2025-03-02 04:33:00.000000')"))

    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.id)).all()
        later = conn.execute(select(table.c.id).where(table.c.at > peru)).scalars().all()

    assert [r.at for r in rows] == [datetime(2025, 3, 2, 4, 30 + n, tzinfo=UTC) for n in range(4)]
    assert all(r.at.tzinfo is UTC for r in rows)
    assert later == [2, 3, 4]


def test_people_read_moments_in_lima_time():
    assert lima(datetime(2025, 3, 2, 4, 30, tzinfo=UTC)) == "2025-03-01 23:30"


CREATE_EVERYTHING = """
import sys
from bot.admin.audit import AuditLog
from bot.admin.joblog import JobLog
from bot.admin.versions import VersionHistory
from bot.settings import load_settings
from bot.usage import UsageLog

settings = load_settings(data_dir=sys.argv[1])
for kind in (AuditLog, JobLog, VersionHistory):
    kind(settings)
UsageLog(settings).record_question(channel="web", user_id=None, question="hola", answer=None,
                                   latency_ms=1.0)
AuditLog(settings).record("cli:prueba", "add", "x", "started")
"""


@pytest.mark.usefixtures("on_both_databases")
def test_processes_creating_the_tables_at_once_all_succeed(tmp_path):
    """Four servers starting together on an empty database: one CREATE wins, none fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE_EVERYTHING, str(tmp_path / "data")],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    failures = [p.stderr.read() for p in starts if p.wait(120) != 0]

    assert not failures, failures[0]
    settings = load_settings(data_dir=tmp_path / "data")
    assert len(AuditLog(settings).entries()) == 4
