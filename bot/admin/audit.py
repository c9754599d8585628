"""The audit log: who did what, to what, when, and with which result."""

from __future__ import annotations

import logging

from sqlalchemy import Column, Integer, String, Table, Text, insert, select

from bot.database import UtcDateTime, connect, create_tables, fitted, metadata, utc_now
from bot.settings import Settings

logger = logging.getLogger(__name__)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(500), nullable=False),
    Column("result", String(32), nullable=False),
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
            row = fitted(audit_log, {**entry, "result": result, "detail": detail[:2000]})
            conn.execute(insert(audit_log).values(**row))

    def entries(self, limit: int = 100) -> list[dict]:
        """Newest first: at (ISO 8601 UTC), actor, action, target, result, detail."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [{**{k: v for k, v in row.items() if k != "id"}, "at": row["at"].isoformat()}
                for row in rows]  # fmt: skip
