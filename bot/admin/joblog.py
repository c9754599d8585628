"""Re-index jobs as rows of the SQL database, so any process can follow them and recover them."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Integer, Table, Text, insert, select, update

from bot.database import Bounded, UtcDateTime, connect, create_tables, metadata
from bot.settings import Settings
from ingest import IndexService

logger = logging.getLogger(__name__)

UNFINISHED = ("queued", "running")
FINISHED = ("succeeded", "failed", "interrupted")

admin_jobs = Table(
    "admin_jobs",
    metadata,
    Column("id", Bounded(64), primary_key=True),
    Column("action", Bounded(16), nullable=False),
    Column("state", Bounded(16), nullable=False, index=True),
    Column("requested_by", Bounded(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("done", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("current", Bounded(200)),
    Column("doc_ids", Text, nullable=False, default="[]"),
    Column("summary", Text),
    Column("errors", Text, nullable=False, default="[]"),
    Column("plan", Text, nullable=False, default="[]"),  # what recovery needs: see recovery.py
    Column("pid", Integer),
)


@dataclass(frozen=True)
class Job:
    """One staff re-index job, as the channels show it."""

    id: str
    action: str  # "add" | "replace" | "remove" | "reindex"
    state: str  # "queued" | "running" | "succeeded" | "failed" | "interrupted"
    requested_by: str  # "web:127.0.0.1", "telegram:12345", "cli:alice"
    created_at: datetime  # aware UTC
    started_at: datetime | None = None
    finished_at: datetime | None = None
    done: int = 0  # chunks processed so far
    total: int = 0  # chunks to process (0 until known)
    current: str | None = None  # doc_id being processed
    doc_ids: list[str] = field(default_factory=list)
    summary: str | None = None  # Spanish, when finished
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file, Spanish reason)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def progress(self, now: datetime | None = None) -> str:
        """Done, total, rate and time left, as the terminal and the log lines say them."""
        now = now or datetime.now(UTC)
        seconds = (now - self.started_at).total_seconds() if self.started_at else 0
        return IndexService.describe_progress(self.done, self.total, seconds)

    def to_dict(self) -> dict:
        """JSON-ready: moments in ISO 8601 UTC, errors as [{"file": …, "reason": …}]."""
        return {
            "id": self.id,
            "action": self.action,
            "state": self.state,
            "requested_by": self.requested_by,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "done": self.done,
            "total": self.total,
            "progress": None if self.finished else self.progress(),
            "current": self.current,
            "doc_ids": list(self.doc_ids),
            "summary": self.summary,
            "errors": [{"file": f, "reason": r} for f, r in self.errors],
        }


class JobLog:
    """The `admin_jobs` table: each job's state, progress and recovery plan."""

    def __init__(self, settings: Settings) -> None:
        self._engine = connect(settings)
        create_tables(self._engine, admin_jobs)

    def insert(self, job: Job, plan: list[dict[str, Any]]) -> None:
        row = _row(job) | {"plan": json.dumps(plan, ensure_ascii=False), "pid": os.getpid()}
        with self._engine.begin() as conn:
            conn.execute(insert(admin_jobs).values(**row))

    def update(self, job: Job, **changes: Any) -> Job:
        """The job with `changes` applied, written through."""
        job = replace(job, **changes)
        row = {k: v for k, v in _row(job).items() if k != "id"}
        with self._engine.begin() as conn:
            conn.execute(update(admin_jobs).where(admin_jobs.c.id == job.id).values(**row))
        return job

    def get(self, job_id: str) -> Job | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(admin_jobs).where(admin_jobs.c.id == job_id)).mappings()
            found = row.first()
        return None if found is None else _job(found)

    def plan(self, job_id: str) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            raw = conn.execute(select(admin_jobs.c.plan).where(admin_jobs.c.id == job_id)).scalar()
        return json.loads(raw or "[]")

    def recent(self, limit: int = 20) -> list[Job]:
        """Newest first."""
        query = select(admin_jobs).order_by(admin_jobs.c.created_at.desc(), admin_jobs.c.id.desc())
        with self._engine.connect() as conn:
            return [_job(row) for row in conn.execute(query.limit(limit)).mappings()]

    def unfinished(self) -> list[Job]:
        """Jobs queued or running, oldest first (after a crash: the ones to recover)."""
        query = (
            select(admin_jobs)
            .where(admin_jobs.c.state.in_(UNFINISHED))
            .order_by(admin_jobs.c.created_at, admin_jobs.c.id)
        )
        with self._engine.connect() as conn:
            return [_job(row) for row in conn.execute(query).mappings()]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _row(job: Job) -> dict[str, Any]:
    data = {k: getattr(job, k) for k in Job.__dataclass_fields__}
    data["doc_ids"] = json.dumps(job.doc_ids, ensure_ascii=False)
    data["errors"] = json.dumps([list(e) for e in job.errors], ensure_ascii=False)
    return data


def _job(row) -> Job:
    data = {k: row[k] for k in Job.__dataclass_fields__}
    data["doc_ids"] = json.loads(row["doc_ids"] or "[]")
    data["errors"] = [tuple(e) for e in json.loads(row["errors"] or "[]")]
    return Job(**data)
