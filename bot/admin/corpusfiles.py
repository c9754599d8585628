"""Where staff documents live: staged under <data_dir>/staging/<job>/, then in corpus_dir.

A file enters corpus_dir only after its version is committed to the index, through a hidden copy
next to its final place and one `os.replace`, so a half-copied file is never seen under its name;
a replaced or removed file is moved to <data_dir>/archive/<job>/ rather than deleted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from ingest import IndexService

logger = logging.getLogger(__name__)

STAGING = "staging"
ARCHIVE = "archive"


@dataclass(frozen=True)
class PlannedDocument:
    """One document of a job, as recovery needs it (kept as JSON in the job's row)."""

    doc_id: str
    content_hash: str  # the version this job makes visible (add, replace) or hides (remove)
    source: str  # the file in corpus_dir once committed (or the one removed)
    staged: str | None = None  # the uploaded bytes until committed (None for a removal)
    previous: str | None = None  # the replaced version's file, when it has another name
    catalog: dict | None = None  # the catalog entry to write for the file, if any

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> PlannedDocument:
        return cls(**data)


def staging_dir(data_dir: Path, job_id: str) -> Path:
    return data_dir / STAGING / job_id


def write_staged(path: Path, data: bytes) -> None:
    """The uploaded bytes on disk, flushed, before any index work starts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def is_under(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def promote(plan: PlannedDocument, corpus_dir: Path, archive: Path, job_id: str) -> None:
    """Put a committed version's file in place (idempotent: recovery may run it again)."""
    final = Path(plan.source)
    if not is_under(final, corpus_dir):  # never write outside the corpus folder
        raise ValueError(f"{final} is outside {corpus_dir}")
    if plan.catalog is not None:
        IndexService.write_catalog_entry(final, plan.catalog)
    staged = Path(plan.staged) if plan.staged else None
    if staged is not None and staged.exists():
        if sha256_of(final) != plan.content_hash:
            if final.exists():
                _archive(final, archive, copy=True)
            part = final.with_name(f".{final.name}.{job_id}.part")  # hidden: ingest skips it
            final.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staged, part)
            with part.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(part, final)
        staged.unlink()
    previous = Path(plan.previous) if plan.previous else None
    if previous and previous != final and previous.exists() and is_under(previous, corpus_dir):
        _archive(previous, archive)


def retire(plan: PlannedDocument, corpus_dir: Path, archive: Path) -> None:
    """Move a removed document's file out of corpus_dir, if it is still that version."""
    source = Path(plan.source)
    if is_under(source, corpus_dir) and sha256_of(source) == plan.content_hash:
        _archive(source, archive)


def discard(plan: PlannedDocument, job_id: str) -> None:
    """Forget an uncommitted version's files: corpus_dir was not touched for it."""
    if plan.staged:
        Path(plan.staged).unlink(missing_ok=True)
    final = Path(plan.source)
    final.with_name(f".{final.name}.{job_id}.part").unlink(missing_ok=True)


def clean_staging(data_dir: Path, job_id: str) -> None:
    shutil.rmtree(staging_dir(data_dir, job_id), ignore_errors=True)


def _archive(path: Path, archive: Path, copy: bool = False) -> None:
    archive.mkdir(parents=True, exist_ok=True)
    target = archive / path.name
    if copy:
        shutil.copy2(path, target)
    else:
        shutil.move(path, target)
    logger.info("Archived %s to %s", path, target)
