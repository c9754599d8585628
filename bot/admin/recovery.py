"""Finishing or rolling back a job that stopped half-way (killed process, failure, restart).

The index manifest is the one commit point. A job goes through these steps, per document:

  1. job row written (state queued/running, with its plan)   nothing else touched
  2. uploaded bytes written to <data_dir>/staging/<job>/      corpus_dir and index untouched
  3. chunks embedded and added to Chroma                       invisible: no manifest entry names
                                                               their version
  4. manifest entry written (`commit_document`,                the new version answers, the old
     or removed by `remove_document`)                          one no longer does: one metadata write
  5. file moved into corpus_dir (catalog entry, old file       what a later `exporta ingest` sees
     archived), version history recorded
  6. `on_commit` (the running service reloads), job row finished

Killed before 4, a document still answers in its old version: recovery deletes its staged file
and `purge_stale()` its invisible chunks (roll back). Killed after 4, the new version answers:
recovery does step 5 again (each part is idempotent) so corpus_dir agrees with the index (roll
forward). Whether 4 happened is read from the manifest: the entry carries the planned content
hash and file (add, replace) or is gone (remove). A whole-corpus re-index commits document by
document the same way; recovery only purges the invisible chunks. Either way the job ends
"interrupted" with a Spanish summary of what was finished and what was undone.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from bot.admin.corpusfiles import (
    ARCHIVE,
    PlannedDocument,
    clean_staging,
    discard,
    promote,
    retire,
)
from bot.admin.versions import DocumentVersion, VersionHistory
from bot.settings import Settings
from ingest import IndexService
from retrieval.contract import DocumentRecord

logger = logging.getLogger(__name__)

VERSION_ACTIONS = {"add": "added", "replace": "replaced", "remove": "removed"}


def is_committed(action: str, plan: PlannedDocument, manifest: dict[str, DocumentRecord]) -> bool:
    """Whether step 4 happened for this document."""
    record = manifest.get(plan.doc_id)
    if action == "remove":
        return record is None
    return (
        record is not None
        and record.content_hash == plan.content_hash
        and record.source == plan.source
    )


def complete(
    action: str,
    plan: PlannedDocument,
    record: DocumentRecord | None,
    settings: Settings,
    versions: VersionHistory,
    job_id: str,
    requested_by: str,
    indexed_at: datetime,
) -> None:
    """Step 5 for a committed document: its file in place and its version recorded."""
    archive = settings.data_dir / ARCHIVE / job_id
    if action == "remove":
        retire(plan, settings.corpus_dir, archive)
    else:
        promote(plan, settings.corpus_dir, archive, job_id)
    versions.record(
        DocumentVersion(
            doc_id=plan.doc_id,
            content_hash=plan.content_hash,
            indexed_at=datetime.fromisoformat(record.indexed_at) if record else indexed_at,
            indexed_by=requested_by,
            chunks=record.chunks if record else 0,
            action=VERSION_ACTIONS[action],
            job_id=job_id,
        )
    )


def settle(
    action: str,
    plans: list[PlannedDocument],
    index: IndexService,
    settings: Settings,
    versions: VersionHistory,
    job_id: str,
    requested_by: str,
    now: datetime,
) -> tuple[list[str], list[str]]:
    """Roll each document of a stopped job forward or back; (finished, rolled back) doc ids."""
    manifest = index.manifest()
    finished, rolled_back = [], []
    for plan in plans:
        if is_committed(action, plan, manifest):
            record = manifest.get(plan.doc_id)
            complete(action, plan, record, settings, versions, job_id, requested_by, now)
            finished.append(plan.doc_id)
        else:
            discard(plan, job_id)
            rolled_back.append(plan.doc_id)
    purged = index.purge_stale()
    clean_staging(settings.data_dir, job_id)
    logger.info(
        "Job %s settled: finished %s, rolled back %s, %d stale chunks purged",
        job_id,
        finished,
        rolled_back,
        purged,
    )
    return finished, rolled_back


def leftover_staging(data_dir: Path, active: set[str]) -> list[Path]:
    """Staging folders of jobs that are no longer running (safe to delete)."""
    root = data_dir / "staging"
    if not root.is_dir():
        return []
    return [p for p in root.iterdir() if p.is_dir() and p.name not in active]
