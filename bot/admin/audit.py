"""The audit log: who did what, to what, when, and with which result.

Refused attempts (a wrong token, a stranger's /indexar) are counted, not written one by one: the
refusals of one client within `REFUSALS_WINDOW` share a row, so nobody can grow the log faster
than a row per address and window. Rows older than `audit_retention_days` are purged.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Column, Integer, Table, Text, delete, func, insert, select, update

from bot.database import (
    PURGE_EVERY,
    Bounded,
    Periodic,
    UtcDateTime,
    connect,
    create_tables,
    metadata,
    utc_now,
)
from bot.settings import Settings

logger = logging.getLogger(__name__)

UNAUTHORIZED = "unauthorized"
REFUSALS_WINDOW = timedelta(minutes=10)
DETAIL_CHARS = 2000

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor", Bounded(200), nullable=False),
    Column("action", Bounded(64), nullable=False),
    Column("target", Bounded(500), nullable=False),
    Column("result", Bounded(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    # A counted row: how many times, and the last time (for one attempt: 1, NULL).
    Column("count", Integer, nullable=False, server_default="1"),
    Column("last_at", UtcDateTime, nullable=True),
)


class AuditLog:
    """Every staff action, kept in the SQL database."""

    def __init__(self, settings: Settings) -> None:
        self._engine = connect(settings)
        self.retention = timedelta(days=settings.audit_retention_days)
        self._purges = Periodic(PURGE_EVERY)
        create_tables(self._engine, audit_log)

    def record(self, actor: str, action: str, target: str, result: str, detail: str = "") -> None:
        """One entry: `actor` did `action` on `target` with `result` ("succeeded", "rejected", …);
        an "unauthorized" one is counted on the actor's row of the current window, if any."""
        logger.info("audit: %s %s %s -> %s %s", actor, action, target, result, detail)
        now = utc_now()
        entry = {"actor": actor, "action": action, "target": target, "result": result}
        entry["detail"] = detail[:DETAIL_CHARS]
        with self._engine.begin() as conn:
            repeated = (
                result == UNAUTHORIZED
                and conn.execute(
                    update(audit_log)
                    .where(audit_log.c.id == self._open_refusals(actor, now).scalar_subquery())
                    .values(**entry, count=audit_log.c.count + 1, last_at=now)
                ).rowcount
            )
            if not repeated:
                conn.execute(insert(audit_log).values(**entry, at=now))
        self.purge_if_due(now)

    @staticmethod
    def _open_refusals(actor: str, now: datetime):
        """The id of the actor's refusals row still counting at `now`."""
        return (
            select(audit_log.c.id)
            .where(audit_log.c.actor == actor)  # compared as written: cut to its length
            .where(audit_log.c.result == UNAUTHORIZED)
            .where(audit_log.c.at > now - REFUSALS_WINDOW)
            .order_by(audit_log.c.id.desc())
            .limit(1)
        )

    def entries(self, limit: int = 100) -> list[dict]:
        """Latest first (a counted row by its last attempt): at, last_at (ISO 8601 UTC or None),
        actor, action, target, result, detail, count."""
        latest = func.coalesce(audit_log.c.last_at, audit_log.c.at)
        query = select(audit_log).order_by(latest.desc(), audit_log.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            {
                **{k: v for k, v in row.items() if k != "id"},
                "at": row["at"].isoformat(),
                "last_at": row["last_at"] and row["last_at"].isoformat(),
            }
            for row in rows
        ]

    def purge(self, now: datetime | None = None) -> int:
        """Delete the entries older than the retention period; how many went."""
        cutoff = (now or utc_now()) - self.retention
        with self._engine.begin() as conn:
            gone = conn.execute(
                delete(audit_log)
                .where(audit_log.c.at < cutoff)
                .where((audit_log.c.last_at.is_(None)) | (audit_log.c.last_at < cutoff))
            ).rowcount
        if gone:
            logger.info("Audit log: %d entries older than %s purged", gone, cutoff.date())
        return gone

    def purge_if_due(self, now: datetime | None = None) -> None:
        """Purge at the first entry and then at most once an hour; never raises."""
        self._purges.run(self.purge, now or utc_now(), "Audit log: purging old entries")
