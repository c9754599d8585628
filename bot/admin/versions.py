"""Each document's version history: content hash, when, by whom, chunk count, action."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Column, Integer, Table, and_, insert, select

from bot.database import Bounded, UtcDateTime, connect, create_tables, metadata
from bot.settings import Settings

logger = logging.getLogger(__name__)

ACTIONS = ("added", "replaced", "removed", "reindexed")

document_versions = Table(
    "document_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", Bounded(200), nullable=False, index=True),
    Column("content_hash", Bounded(64), nullable=False),
    Column("indexed_at", UtcDateTime, nullable=False),
    Column("indexed_by", Bounded(200), nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("action", Bounded(16), nullable=False),
    Column("job_id", Bounded(64), nullable=True, index=True),
)


@dataclass(frozen=True)
class DocumentVersion:
    doc_id: str
    content_hash: str
    indexed_at: datetime  # aware UTC
    indexed_by: str  # "web:…", "telegram:…", "cli:…"
    chunks: int  # 0 for a removal
    action: str  # "added" | "replaced" | "removed" | "reindexed"
    job_id: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready: the moment in ISO 8601 UTC."""
        return asdict(self) | {"indexed_at": self.indexed_at.isoformat()}


class VersionHistory:
    """Document versions kept in the SQL database."""

    def __init__(self, settings: Settings) -> None:
        self._engine = connect(settings)
        create_tables(self._engine, document_versions)

    def record(self, version: DocumentVersion) -> None:
        """Keep one version; the same document, hash and action of one job is kept only once."""
        with self._engine.begin() as conn:
            if version.job_id is not None:
                t = document_versions.c
                seen = conn.execute(
                    select(t.id).where(
                        and_(
                            t.job_id == version.job_id,
                            t.doc_id == version.doc_id,
                            t.content_hash == version.content_hash,
                            t.action == version.action,
                        )
                    )
                ).first()
                if seen is not None:  # a recovery finishing a job already recorded this step
                    return
            conn.execute(insert(document_versions).values(**asdict(version)))

    def history(self, doc_id: str | None = None) -> list[DocumentVersion]:
        """Newest first; every document's when `doc_id` is None."""
        query = select(document_versions).order_by(document_versions.c.id.desc())
        if doc_id is not None:
            query = query.where(document_versions.c.doc_id == doc_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [DocumentVersion(**{k: v for k, v in row.items() if k != "id"}) for row in rows]
