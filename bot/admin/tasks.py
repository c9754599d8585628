"""The work of one job: plan it under the lock, stage the uploads, let the IndexService index
them, then move each committed document's file into place."""

from __future__ import annotations

import errno
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.admin import recovery
from bot.admin.corpusfiles import (
    PlannedDocument,
    clean_staging,
    discard,
    staging_dir,
    write_staged,
)
from bot.admin.joblog import Job
from bot.admin.plans import plan_adding, plan_removing, plan_replacing
from bot.admin.uploads import ValidatedUpload
from bot.admin.versions import DocumentVersion
from bot.database import utc_now
from ingest import DocumentInfo, Hooks, Incoming, IngestReport
from prompts import message
from retrieval.contract import DocumentRecord
from retrieval.errors import ExportaError

if TYPE_CHECKING:
    from bot.admin.jobs import JobRunner

logger = logging.getLogger(__name__)


class JobTask:
    """One job from its plan to its last state; `run` is all a thread needs."""

    def __init__(self, runner: JobRunner, action: str, requested_by: str, **inputs) -> None:
        self.runner = runner
        self.settings = runner.settings
        self.action = action
        self.requested_by = requested_by
        self.inputs = inputs
        self.plans: list[PlannedDocument] = []
        self.infos: dict[str, DocumentInfo] = {}
        self.uploads: dict[str, ValidatedUpload] = {}
        self.report = IngestReport()
        self.raise_errors = False
        self.job: Job | None = None

    @classmethod
    def for_adding(cls, runner, validated: list[ValidatedUpload], requested_by: str) -> JobTask:
        return cls(runner, "add", requested_by, validated=validated)

    @classmethod
    def for_replacing(
        cls, runner, doc_id: str, validated: ValidatedUpload, requested_by: str
    ) -> JobTask:
        return cls(runner, "replace", requested_by, doc_id=doc_id, validated=[validated])

    @classmethod
    def for_removing(cls, runner, doc_id: str, requested_by: str) -> JobTask:
        return cls(runner, "remove", requested_by, doc_id=doc_id)

    @classmethod
    def for_reindexing(
        cls,
        runner,
        paths: list[Path],
        rebuild: bool,
        requested_by: str,
        progress: bool | None = False,
        raise_errors: bool = False,
        reuse_vectors: bool = True,
    ) -> JobTask:
        task = cls(runner, "reindex", requested_by, paths=paths, rebuild=rebuild,
                   progress=progress, reuse_vectors=reuse_vectors)  # fmt: skip
        task.raise_errors = raise_errors  # the command line reports a failure itself
        return task

    # -- planning (lock held, nothing touched yet) ----------------------------------------------
    def begin(self, job_id: str) -> Job:
        """Plan every document, then write the job's row: step 1 of recovery.py."""
        manifest = self.runner.index.manifest()
        staging = staging_dir(self.settings.data_dir, job_id)
        if self.action == "add":
            planned = plan_adding(self.settings, manifest, self.inputs["validated"], staging)
        elif self.action == "replace":
            doc_id, [validated] = self.inputs["doc_id"], self.inputs["validated"]
            planned = plan_replacing(self.settings, manifest, doc_id, validated, staging)
        elif self.action == "remove":
            planned = plan_removing(manifest, self.inputs["doc_id"])
        else:
            planned = []
        self.plans = [p.plan for p in planned]
        self.infos = {p.plan.doc_id: p.info for p in planned}
        self.uploads = {p.plan.doc_id: p.upload for p in planned if p.upload is not None}
        now = utc_now()
        doc_ids = [p.doc_id for p in self.plans]
        self.job = Job(job_id, self.action, "queued", self.requested_by, now, doc_ids=doc_ids)
        self.runner.log.insert(self.job, [p.to_json() for p in self.plans])
        return self.job

    # -- running ---------------------------------------------------------------------------------
    def run(self) -> None:
        """Do the job; a failure settles it (roll forward or back), a kill leaves it to recover()."""
        started = time.perf_counter()
        try:
            self._update(state="running", started_at=utc_now())
            if self.action == "remove":
                self._remove()
            elif self.action == "reindex":
                self._reindex()
            else:
                self._index_files()
            self.report.seconds = time.perf_counter() - started
            nothing_done = not (self.report.added or self.report.updated or self.report.removed)
            state = "failed" if self.report.failed and nothing_done else "succeeded"
            self._finish(state, self._summary())
        except Exception as exc:
            logger.exception("Job %s failed", self.job.id)
            recovery.settle(self.action, self.plans, self.runner.index, self.settings,
                            self.runner.versions, self.job.id, self.requested_by,
                            utc_now())  # fmt: skip
            self._finish("failed", message("admin.job_failed", reason=_reason(exc)))
            if self.raise_errors:
                raise
        finally:
            self.runner.release(self.job.id)

    def _summary(self) -> str:
        if self.action == "remove":
            return message("admin.removed_summary", doc_id=self.plans[0].doc_id)
        return self.report.summary()

    def _index_files(self) -> None:
        """Steps 2 to 6 for uploaded files (add, replace)."""
        for plan in self.plans:
            write_staged(Path(plan.staged), self.uploads[plan.doc_id].upload.data)
        self.runner.checkpoint("staged")
        plans = {plan.doc_id: plan for plan in self.plans}
        files = [
            Incoming(
                Path(plan.staged),
                self.infos[plan.doc_id],
                source=Path(plan.source),
                label=self.uploads[plan.doc_id].filename,
            )  # fmt: skip
            for plan in self.plans
        ]

        def committed(doc_id: str, record: DocumentRecord | None) -> None:
            self.runner.checkpoint("committed")  # step 4 done: this version answers from now on
            self._complete(plans[doc_id], record)
            self.runner.committed()

        self.report = self.runner.index.index_files(files, self._hooks(committed))
        indexed = {*self.report.added, *self.report.updated, *self.report.unchanged}
        for plan in self.plans:
            if plan.doc_id not in indexed:  # refused by the loader: nothing of it stays
                discard(plan, self.job.id)
        clean_staging(self.settings.data_dir, self.job.id)

    def _remove(self) -> None:
        plan = self.plans[0]
        self._update(current=plan.doc_id)
        self.runner.checkpoint("staged")

        def removed(doc_id: str, record: DocumentRecord | None) -> None:
            self.runner.checkpoint("committed")  # step 4: hidden in one write, chunks deleted
            self._complete(plan, None)
            self.runner.committed()

        self.report = self.runner.index.remove(plan.doc_id, Hooks(commit=removed))

    def _reindex(self) -> None:
        before = self.runner.index.manifest()

        def committed(doc_id: str, record: DocumentRecord | None) -> None:
            old = before.get(doc_id)
            self.runner.versions.record(_reindexed_version(doc_id, old, record, self))
            self._update(doc_ids=[*self.job.doc_ids, doc_id])
            self.runner.committed()

        self.report = self.runner.index.index(
            list(self.inputs["paths"]),
            rebuild=self.inputs["rebuild"],
            progress=self.inputs["progress"],
            hooks=self._hooks(committed),
            recompute_vectors=not self.inputs["reuse_vectors"],
        )

    def _hooks(self, committed) -> Hooks:
        """Progress into the job's row, checkpoints for the crash tests, then `committed`."""
        return Hooks(
            reading=lambda doc_id: self._update(current=doc_id),
            progress=lambda done, total, doc_id: self._update(
                done=done, total=total, current=doc_id
            ),
            staged=lambda doc_id: self.runner.checkpoint("chunks_added"),
            commit=committed,
        )

    def _complete(self, plan: PlannedDocument, record: DocumentRecord | None) -> None:
        recovery.complete(self.action, plan, record, self.settings, self.runner.versions,
                          self.job.id, self.requested_by, utc_now())  # fmt: skip
        self.runner.checkpoint("completed")

    def _update(self, **changes) -> None:
        self.job = self.runner.log.update(self.job, **changes)

    def _finish(self, state: str, summary: str) -> None:
        self._update(state=state, finished_at=utc_now(), current=None, summary=summary,
                     errors=list(self.report.failed))  # fmt: skip
        target = ", ".join(self.job.doc_ids) or self.action
        self.runner.audit.record(self.requested_by, self.action, target, state, summary)


def _reason(error: BaseException) -> str:
    """Why a job failed, for the staff: a domain error's Spanish text, a full disk said as such
    (SQLite, Chroma and the file system each word it their own way), else the error's kind."""
    if isinstance(error, ExportaError):
        return str(error)
    cause: BaseException | None = error
    while cause is not None:
        full = isinstance(cause, OSError) and cause.errno == errno.ENOSPC
        if full or any(words in str(cause).lower() for words in _DISK_FULL):
            return message("admin.disk_full")
        cause = cause.__cause__ or cause.__context__
    return type(error).__name__


_DISK_FULL = ("disk is full", "no space left on device")


def _reindexed_version(doc_id, old, record, task: JobTask) -> DocumentVersion:
    if record is None:
        action, digest, chunks, at = "removed", old.content_hash if old else "", 0, utc_now()
    else:
        digest, chunks = record.content_hash, record.chunks
        at = datetime.fromisoformat(record.indexed_at)
        if old is None:
            action = "added"
        else:
            action = "replaced" if old.content_hash != digest else "reindexed"
    return DocumentVersion(doc_id, digest, at, task.requested_by, chunks, action, task.job.id)
