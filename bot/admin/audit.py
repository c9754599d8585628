"""The audit log: who did what, to what, when, and with which result."""

from __future__ import annotations

import logging

from sqlalchemy import Column, Integer, Table, Text, insert, select

from bot.database import Bounded, UtcDateTime, connect, create_tables, metadata, utc_now
from bot.settings import Settings

logger = logging.getLogger(__name__)

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
)


class AuditLog:
    """Every staff action, kept in the SQL database."""

    def __init__(self, settings: Settings) -> None:
        self._engine = connect(settings)
        create_tables(self._engine, audit_log)

    def record(self, actor: str, action: str, target: str, result: str, detail: str = "") -> None:
        """One entry: `actor` did `action` on `target` with `result` ("succeeded", "rejected", …)."""
        logger.info("audit: %s %s %s -> %s %s", actor, action, target, result, detail)
        entry = {"at": utc_now(), "actor": actor, "action": action, "target": target}
        with self._engine.begin() as conn:
            conn.execute(insert(audit_log).values(**entry, result=result, detail=detail[:2000]))

    def entries(self, limit: int = 100) -> list[dict]:
        """Newest first: at (ISO 8601 UTC), actor, action, target, result, detail."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [{**{k: v for k, v in row.items() if k != "id"}, "at": row["at"].isoformat()}
                for row in rows]  # fmt: skip
