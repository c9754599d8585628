"""Where staff documents live: staged under <data_dir>/staging/<job>/, then in corpus_dir.

A file enters corpus_dir only after its version is committed to the index, through a hidden copy
next to its final place and one `os.replace`, so a half-copied file is never seen under its name;
a replaced or removed file is moved to <data_dir>/archive/<job>/ rather than deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from ingest.catalog import CATALOG_FILE, slugify

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
        set_catalog_entry(final.parent / CATALOG_FILE, final.name, plan.catalog)
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


def catalog_entry(doc_id: str, name: str, fields: dict, existing: dict | None) -> dict | None:
    """The catalog entry a file needs, or None when the catalog already says it all."""
    entry = dict(existing or {})
    entry.update({k: v for k, v in fields.items() if v is not None})
    if slugify(Path(name).stem) != doc_id:  # the file name alone would give another id
        entry["doc_id"] = doc_id
    return None if entry == (existing or {}) else entry


def set_catalog_entry(path: Path, name: str, entry: dict) -> None:
    """Write the `[name]` table of a catalog.toml (added, or its own lines rewritten)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    current = tomllib.loads(text) if text else {}
    if current.get(name) == entry:
        return
    block = _toml_table(name, entry)
    header = f"[{json.dumps(name, ensure_ascii=False)}]"
    lines = text.splitlines()
    if name in current and header in (line.strip() for line in lines):
        start = next(i for i, line in enumerate(lines) if line.strip() == header)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
            len(lines),
        )
        new_text = "\n".join([*lines[:start], block.rstrip("\n"), "", *lines[end:]]) + "\n"
    elif name in current:  # written in another form: leave the staff's file alone
        logger.warning("Catalog entry %s in %s not rewritten", name, path)
        return
    else:
        new_text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block
    tomllib.loads(new_text)  # never leave a catalog the next ingest cannot read
    part = path.with_name(f".{path.name}.part")
    part.write_text(new_text, encoding="utf-8")
    os.replace(part, path)


def _toml_table(name: str, entry: dict) -> str:
    lines = [f"[{json.dumps(name, ensure_ascii=False)}]"]
    for key, value in entry.items():  # JSON strings and integers are valid TOML values
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"
