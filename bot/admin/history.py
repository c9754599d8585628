"""The version history as text, for `exporta history`."""

from __future__ import annotations

from bot.admin.errors import DocumentNotFound
from bot.admin.versions import VersionHistory
from bot.database import lima
from bot.settings import Settings
from ingest import IndexService
from prompts import message


def render_history(settings: Settings, index: IndexService, doc_id: str | None = None) -> str:
    """One line per version, newest first; an id neither indexed nor ever recorded is an error."""
    versions = VersionHistory(settings).history(doc_id)
    unknown = doc_id is not None and not versions
    if unknown and doc_id not in index.manifest():
        raise DocumentNotFound(doc_id)
    if not versions:
        return message("admin.history_empty")
    lines = [message("admin.history_heading", count=len(versions))]
    for v in versions:
        lines.append(
            message(
                "admin.history_line",
                indexed_at=lima(v.indexed_at),
                doc_id=v.doc_id,
                action=message(f"admin.action_{v.action}"),
                chunks=v.chunks,
                hash=v.content_hash[:12] or "-",
                indexed_by=v.indexed_by,
            )
        )
    return "\n".join(lines)
