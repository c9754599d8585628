"""Planning a job under the lock, before anything is touched: each document's id, its file's
final place in corpus_dir, and the catalog entry that keeps its id and title on a later ingest."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from bot.admin.corpusfiles import PlannedDocument, is_under
from bot.admin.errors import DocumentNotFound
from bot.admin.uploads import UploadRejected, ValidatedUpload, inside, safe_filename
from bot.settings import Settings
from ingest import DocumentInfo, IndexService
from prompts import message
from retrieval.contract import DocumentRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Planned:
    plan: PlannedDocument  # what recovery needs
    info: DocumentInfo  # what the chunks are labelled with
    upload: ValidatedUpload | None  # the bytes to stage (None for a removal)


def plan_adding(
    settings: Settings,
    manifest: dict[str, DocumentRecord],
    uploads: list[ValidatedUpload],
    staging: Path,
) -> list[Planned]:
    """New documents, each under its own id; an id already indexed must be replaced instead."""
    taken = set(manifest)
    planned = []
    for upload in uploads:
        final = inside(settings.corpus_dir, upload.filename)
        info = _with_upload_fields(IndexService.describe(final), upload)
        if info.doc_id in taken:
            reason = message("admin.already_indexed", doc_id=info.doc_id)
            if info.doc_id not in manifest:
                reason = message("admin.duplicate_upload")
            raise UploadRejected("exists", upload.filename, reason)
        taken.add(info.doc_id)
        fields = _upload_fields(upload)
        entry = IndexService.catalog_entry(info.doc_id, final, fields)
        planned.append(_planned(upload, info, final, staging, None, entry))
    return planned


def plan_replacing(
    settings: Settings,
    manifest: dict[str, DocumentRecord],
    doc_id: str,
    upload: ValidatedUpload,
    staging: Path,
) -> list[Planned]:
    """A new version under the same id: the old file's name, with the new content's suffix."""
    record = indexed(manifest, doc_id)
    old = Path(record.source)
    name = f"{old.stem}.{upload.fmt}"  # the same name gives the same id on the next ingest
    if is_under(old, settings.corpus_dir):
        final = old.parent.resolve() / name
    else:  # indexed from elsewhere by the command line: the new version goes to the corpus
        final = inside(settings.corpus_dir, safe_filename(name))
    owners = {r.source: r.doc_id for r in manifest.values()}
    if owners.get(str(final), doc_id) != doc_id:
        reason = message("admin.already_indexed", doc_id=owners[str(final)])
        raise UploadRejected("exists", upload.filename, reason)
    info = DocumentInfo(doc_id, record.title, record.kind, record.year, record.region)
    info = _with_upload_fields(info, upload)
    fields = _upload_fields(upload)
    if final.name != old.name:  # the old name's catalog entry no longer applies
        fields = {"title": info.title, "kind": info.kind, "year": info.year, "region": info.region}
    entry = IndexService.catalog_entry(doc_id, final, fields)
    previous = str(old) if old.resolve() != final else None
    return [_planned(upload, info, final, staging, previous, entry)]


def plan_removing(manifest: dict[str, DocumentRecord], doc_id: str) -> list[Planned]:
    record = indexed(manifest, doc_id)
    info = DocumentInfo(doc_id, record.title, record.kind, record.year, record.region)
    return [Planned(PlannedDocument(doc_id, record.content_hash, record.source), info, None)]


def indexed(manifest: dict[str, DocumentRecord], doc_id: str) -> DocumentRecord:
    if doc_id not in manifest:
        raise DocumentNotFound(doc_id)
    return manifest[doc_id]


def _planned(upload, info, final: Path, staging: Path, previous, entry) -> Planned:
    plan = PlannedDocument(
        doc_id=info.doc_id,
        content_hash=upload.content_hash,
        source=str(final),
        staged=str(staging / upload.filename),
        previous=previous,
        catalog=entry,
    )
    return Planned(plan, info, upload)


def _upload_fields(upload: ValidatedUpload) -> dict:
    u = upload.upload
    return {"title": u.title, "kind": u.kind, "year": u.year, "region": u.region}


def _with_upload_fields(info: DocumentInfo, upload: ValidatedUpload) -> DocumentInfo:
    given = {k: v for k, v in _upload_fields(upload).items() if v not in (None, "")}
    return replace(info, **given)
