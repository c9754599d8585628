"""Re-index jobs: one at a time across processes, each document version visible in one step.

A request is checked in the caller's thread (uploads validated, document ids looked up, the lock
taken) before anything is touched; the work then runs in a background thread while the running
service keeps answering from the old version. How each step stays consistent if the process dies
is written down in bot/admin/recovery.py.
"""

from __future__ import annotations

import getpass
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.admin import recovery
from bot.admin.audit import AuditLog
from bot.admin.corpusfiles import PlannedDocument, clean_staging
from bot.admin.errors import DocumentNotFound, JobBusy
from bot.admin.joblog import Job, JobLog
from bot.admin.lock import job_lock
from bot.admin.tasks import JobTask
from bot.admin.uploads import Upload, UploadRejected, validate_upload
from bot.admin.versions import VersionHistory
from bot.database import utc_now
from bot.settings import Settings
from ingest import IndexService, IngestReport
from prompts import message
from retrieval.errors import ExportaError

logger = logging.getLogger(__name__)

__all__ = ["DocumentNotFound", "Job", "JobBusy", "JobRunner", "cli_actor"]

WAIT_POLL_SECONDS = 0.2


def cli_actor() -> str:
    """`cli:<os user>`, who runs a command line action."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in a bare container
        return "cli:desconocido"


class JobRunner:
    """Runs staff re-index jobs in a background thread, one at a time across processes."""

    def __init__(
        self,
        settings: Settings,
        index: IndexService,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.on_commit = on_commit
        self.audit = AuditLog(settings)
        self.versions = VersionHistory(settings)
        self.log = JobLog(settings)
        self._lock = job_lock(settings)
        self._threads: dict[str, threading.Thread] = {}
        # Tests set this to stop ("kill") a job at a named step; see JobTask.checkpoint.
        self.checkpoint: Callable[[str], None] = lambda step: None

    # -- recovery ------------------------------------------------------------------------------
    def recover(self) -> list[Job]:
        """At startup: finish or roll back the jobs a dead process left; the recovered jobs."""
        if not self._lock.try_acquire("recuperación"):
            return []  # another process holds the lock: its job is alive
        try:
            return self._settle_dead_jobs()
        finally:
            self._lock.release()

    def _settle_dead_jobs(self) -> list[Job]:
        """With the lock held, every unfinished job belongs to a dead process."""
        recovered = []
        for job in self.log.unfinished():
            plans = [PlannedDocument.from_json(p) for p in self.log.plan(job.id)]
            now = utc_now()
            finished, undone = recovery.settle(job.action, plans, self.index, self.settings,
                                               self.versions, job.id, job.requested_by, now)  # fmt: skip
            none = message("admin.nothing")
            summary = message(
                "admin.job_interrupted",
                finished=", ".join(finished) or none,
                rolled_back=", ".join(undone) or none,
            )
            job = self.log.update(
                job, state="interrupted", finished_at=now, current=None, summary=summary
            )
            self.audit.record("sistema", job.action, job.id, "interrupted", summary)
            recovered.append(job)
        for folder in recovery.leftover_staging(self.settings.data_dir, set()):
            clean_staging(self.settings.data_dir, folder.name)
        return recovered

    # -- requests ------------------------------------------------------------------------------
    def add_documents(self, uploads: list[Upload], requested_by: str) -> Job:
        """Validate every upload (UploadRejected), take the lock (JobBusy), start indexing."""
        target = ", ".join(u.filename for u in uploads)
        with self._audited(requested_by, "add", target):
            if not uploads:
                raise UploadRejected("empty", "", message("admin.no_uploads"))
            validated = [validate_upload(u, self.settings) for u in uploads]
            task = JobTask.for_adding(self, validated, requested_by)
            return self._start(task)

    def replace_document(self, doc_id: str, upload: Upload, requested_by: str) -> Job:
        """A new version of an indexed document, keeping its id."""
        with self._audited(requested_by, "replace", f"{doc_id} <- {upload.filename}"):
            self._indexed(doc_id)
            validated = validate_upload(upload, self.settings)
            return self._start(JobTask.for_replacing(self, doc_id, validated, requested_by))

    def remove_document(self, doc_id: str, requested_by: str) -> Job:
        """Stop citing a document: out of the index, its file out of corpus_dir (archived)."""
        with self._audited(requested_by, "remove", doc_id):
            self._indexed(doc_id)
            return self._start(JobTask.for_removing(self, doc_id, requested_by))

    def reindex(self, requested_by: str) -> Job:
        """Bring the index in line with the whole corpus_dir (only what changed is re-embedded)."""
        with self._audited(requested_by, "reindex", str(self.settings.corpus_dir)):
            task = JobTask.for_reindexing(self, [self.settings.corpus_dir], False, requested_by)
            return self._start(task)

    def ingest_now(
        self,
        paths: list[Path],
        requested_by: str,
        rebuild: bool = False,
        progress: bool | None = None,
        reuse_vectors: bool = True,
    ) -> IngestReport:
        """`exporta ingest`: the same job, run in the caller's thread, with its report."""
        target = ", ".join(str(p) for p in paths)
        task = JobTask.for_reindexing(self, paths, rebuild, requested_by, progress=progress,
                                      raise_errors=True, reuse_vectors=reuse_vectors)  # fmt: skip
        with self._audited(requested_by, "reindex", target):
            job = self._claim(task)
        self.audit.record(requested_by, "reindex", target, "started", job.id)
        task.run()
        return task.report

    # -- reading -------------------------------------------------------------------------------
    def job(self, job_id: str) -> Job | None:
        return self.log.get(job_id)

    def running(self) -> Job | None:
        unfinished = self.log.unfinished()
        return unfinished[-1] if unfinished else None

    def recent(self, limit: int = 20) -> list[Job]:
        return self.log.recent(limit)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once finished (or as it is when `timeout` seconds have passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        while True:
            job = self.log.get(job_id)
            if job is None:
                raise KeyError(job_id)
            if job.finished or (deadline is not None and time.monotonic() >= deadline):
                return job
            if thread is not None and not thread.is_alive():
                return job  # its thread died without finishing it: recover() will
            time.sleep(WAIT_POLL_SECONDS)

    # -- for JobTask ---------------------------------------------------------------------------
    def committed(self) -> None:
        """A document version became visible: let the running service reload."""
        if self.on_commit is None:
            return
        try:
            self.on_commit()
        except Exception:  # the job succeeded; the service retries on its own next check
            logger.exception("on_commit failed after a re-index commit")

    def release(self, job_id: str) -> None:
        self._threads.pop(job_id, None)
        self._lock.release()

    # -- internals -----------------------------------------------------------------------------
    def _indexed(self, doc_id: str):
        record = self.index.manifest().get(doc_id)
        if record is None:
            raise DocumentNotFound(doc_id)
        return record

    def _claim(self, task: JobTask) -> Job:
        """Take the lock, settle what a dead process left, then write the new job's row."""
        job_id = new_job_id()
        if not self._lock.try_acquire(job_id):
            raise JobBusy(self._lock.holder())
        try:
            self._settle_dead_jobs()
            return task.begin(job_id)
        except BaseException:
            self._lock.release()
            raise

    def _start(self, task: JobTask) -> Job:
        job = self._claim(task)
        self.audit.record(job.requested_by, job.action, ", ".join(job.doc_ids), "started", job.id)
        thread = threading.Thread(target=task.run, name=f"exporta-job-{job.id}", daemon=True)
        self._threads[job.id] = thread
        thread.start()
        return job

    def _audited(self, actor: str, action: str, target: str):
        return _RefusalAudit(self.audit, actor, action, target)


class _RefusalAudit:
    """Writes an audit entry when a request is refused before its job starts."""

    def __init__(self, audit: AuditLog, actor: str, action: str, target: str) -> None:
        self.audit, self.actor, self.action, self.target = audit, actor, action, target

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, _tb) -> bool:
        if isinstance(exc, JobBusy):
            self.audit.record(self.actor, self.action, self.target, "busy", exc.job_id)
        elif isinstance(exc, ExportaError):
            self.audit.record(self.actor, self.action, self.target, "rejected", str(exc))
        return False


def new_job_id() -> str:
    """Sortable and short: 20250101-120000-1a2b3c."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
