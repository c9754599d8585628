"""The work of one job: plan it under the lock, then stage, embed, commit and move files."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import ingest.pipeline as pipeline
from bot.admin import recovery
from bot.admin.audit import utc_now
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
from ingest.catalog import DocumentInfo
from ingest.progress import Progress
from prompts import message
from retrieval.contract import DocumentRecord, document_version
from retrieval.errors import DocumentRejected, ExportaError
from retrieval.store import ChunkStore

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
        self.report = pipeline.IngestReport()
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
        manifest = ChunkStore.open(self.settings).manifest(fresh=True)
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
            store = ChunkStore.open(self.settings)
            if self.action == "remove":
                self._remove(store)
            elif self.action == "reindex":
                self._reindex(store)
            else:
                self._index_files(store)
            self.report.seconds = time.perf_counter() - started
            nothing_done = not (self.report.added or self.report.updated or self.report.removed)
            state = "failed" if self.report.failed and nothing_done else "succeeded"
            summary = self._summary()
            self._finish(state, summary)
        except Exception as exc:
            logger.exception("Job %s failed", self.job.id)
            recovery.settle(self.action, self.plans, self.settings, self.runner.versions,
                            self.job.id, self.requested_by, utc_now())  # fmt: skip
            reason = str(exc) if isinstance(exc, ExportaError) else type(exc).__name__
            self._finish("failed", message("admin.job_failed", reason=reason))
            if self.raise_errors:
                raise
        finally:
            self.runner.release(self.job.id)

    def _summary(self) -> str:
        if self.action == "remove":
            return message("admin.removed_summary", doc_id=self.plans[0].doc_id)
        return self.report.summary()

    def _index_files(self, store: ChunkStore) -> None:
        """Steps 2 to 6 for uploaded files (add, replace)."""
        store.open_for_writing(self.settings.embedding_model)
        store.purge_stale()  # invisible chunks a killed job may have left
        manifest = store.manifest(fresh=True)
        for plan in self.plans:
            write_staged(Path(plan.staged), self.uploads[plan.doc_id].upload.data)
        self.runner.checkpoint("staged")
        chunked = []
        for plan in self.plans:
            try:
                digest, chunks = pipeline.chunk_file(
                    Path(plan.staged), self.infos[plan.doc_id], self.settings.ocr
                )
            except DocumentRejected as exc:
                self.report.failed.append((self.uploads[plan.doc_id].filename, str(exc)))
                discard(plan, self.job.id)
                continue
            previous = manifest.get(plan.doc_id)
            if previous and previous.version == document_version(digest, pipeline.PIPELINE_VERSION):
                self.report.unchanged.append(plan.doc_id)  # same bytes: nothing to re-embed
                continue
            chunked.append((plan, digest, chunks))
        total = sum(len(chunks) for *_, chunks in chunked)
        self._update(total=total)
        vectors = self.runner.vectors()
        reused, embedded = vectors.reused, vectors.embedded
        with Progress(total, terminal=False) as bar:  # log lines for the server's journal
            for plan, digest, chunks in chunked:
                self._update(current=plan.doc_id)

                def advance(n: int, doc_id: str = plan.doc_id) -> None:
                    bar.advance(n, doc_id)
                    self._advance(n)

                pipeline.stage_chunks(chunks, store, vectors, advance)
                self.runner.checkpoint("chunks_added")
                info = self.infos[plan.doc_id]
                record = pipeline.document_record(info, Path(plan.source), digest, chunks)
                store.commit_document(record)  # step 4: this version answers from now on
                self.runner.checkpoint("committed")
                self._complete(plan, record)
                (self.report.updated if self.action == "replace" else self.report.added).append(
                    plan.doc_id
                )
                self.report.chunks += len(chunks)
                self.runner.committed()
        store.purge_stale()
        self.report.reused, self.report.embedded = (
            vectors.reused - reused,
            vectors.embedded - embedded,
        )
        clean_staging(self.settings.data_dir, self.job.id)

    def _remove(self, store: ChunkStore) -> None:
        plan = self.plans[0]
        self._update(current=plan.doc_id)
        self.runner.checkpoint("staged")
        store.remove_document(plan.doc_id)  # step 4: hidden in one write, then chunks deleted
        self.runner.checkpoint("committed")
        self._complete(plan, None)
        self.report.removed.append(plan.doc_id)
        self.runner.committed()

    def _reindex(self, store: ChunkStore) -> None:
        before = store.manifest(fresh=True)

        def committed(doc_id: str, record: DocumentRecord | None) -> None:
            old = before.get(doc_id)
            self.runner.versions.record(_reindexed_version(doc_id, old, record, self))
            self._update(doc_ids=[*self.job.doc_ids, doc_id])
            self.runner.committed()

        self.report = pipeline.ingest(
            list(self.inputs["paths"]),
            store,
            self.runner.vectors(reuse=self.inputs["reuse_vectors"]),
            rebuild=self.inputs["rebuild"],
            progress=self.inputs["progress"],
            on_progress=lambda done, total, doc_id: self._update(
                done=done, total=total, current=doc_id
            ),
            on_commit=committed,
            ocr=self.settings.ocr,
        )

    def _complete(self, plan: PlannedDocument, record: DocumentRecord | None) -> None:
        recovery.complete(self.action, plan, record, self.settings, self.runner.versions,
                          self.job.id, self.requested_by, utc_now())  # fmt: skip
        self.runner.checkpoint("completed")

    def _advance(self, n: int) -> None:
        if n:
            self._update(done=self.job.done + n)

    def _update(self, **changes) -> None:
        self.job = self.runner.log.update(self.job, **changes)

    def _finish(self, state: str, summary: str) -> None:
        self._update(state=state, finished_at=utc_now(), current=None, summary=summary,
                     errors=list(self.report.failed))  # fmt: skip
        target = ", ".join(self.job.doc_ids) or self.action
        self.runner.audit.record(self.requested_by, self.action, target, state, summary)


def _reindexed_version(doc_id, old, record, task: JobTask) -> DocumentVersion:
    if record is None:
        action, digest, chunks, at = "removed", old.content_hash if old else "", 0, utc_now()
    else:
        digest, chunks, at = record.content_hash, record.chunks, record.indexed_at
        if old is None:
            action = "added"
        else:
            action = "replaced" if old.content_hash != digest else "reindexed"
    return DocumentVersion(doc_id, digest, at, task.requested_by, chunks, action, task.job.id)
