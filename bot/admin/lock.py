"""One re-index job at a time, across threads and processes: an exclusive lock on a file, or on
PostgreSQL an advisory lock, which servers on other machines see too.

`flock` locks belong to an open file, so two runners in one process exclude each other as two
processes do, and the operating system drops the lock of a process that dies (no stale lock).
The file holds the id of the job that owns the lock, for the "busy" message.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

from sqlalchemy import Column, Table, delete, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.database import Bounded, connect, create_tables, metadata

logger = logging.getLogger(__name__)


class JobLock:
    """An exclusive, non-blocking lock on `<data_dir>/admin-job.lock`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._guard = threading.Lock()

    def try_acquire(self, owner: str) -> bool:
        """Take the lock for `owner` (a job id); False if someone holds it."""
        with self._guard:
            if self._fd is not None:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.pwrite(fd, owner.encode(), 0)
            self._fd = fd
            return True

    def transfer(self, owner: str) -> None:
        """Record a new owner of the lock already held (a recovery hands it to the new job)."""
        with self._guard:
            if self._fd is not None:
                os.ftruncate(self._fd, 0)
                os.pwrite(self._fd, owner.encode(), 0)

    def release(self) -> None:
        with self._guard:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> str:
        """The id of the job holding the lock, as far as its file says."""
        try:
            return self.path.read_text(encoding="utf-8").strip() or "?"
        except OSError:
            return "?"


job_lock_owner = Table(
    "job_lock_owner",
    metadata,
    Column("name", Bounded(32), primary_key=True),
    Column("owner", Bounded(64), nullable=False),
)


class AdvisoryJobLock:
    """The same lock on PostgreSQL, for servers on several machines: a session advisory lock
    held on a connection of its own while the job runs. PostgreSQL drops it when the holding
    process dies (its connection closes), as the kernel drops a dead process's flock. The
    owner's job id is kept in a one-row table, for the "busy" message."""

    KEY = 0x6578706F  # one lock per database: "expo"

    def __init__(self, settings) -> None:
        self._engine = connect(settings)
        self._conn = None
        self._guard = threading.Lock()
        create_tables(self._engine, job_lock_owner)

    def try_acquire(self, owner: str) -> bool:
        with self._guard:
            if self._conn is not None:
                return False
            conn = self._engine.connect()
            try:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.KEY})
                taken = bool(got.scalar())
                conn.commit()  # the lock is the session's; no transaction stays open
            except BaseException:
                conn.close()
                raise
            if not taken:
                conn.close()
                return False
            self._conn = conn
        self.transfer(owner)
        return True

    def transfer(self, owner: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(job_lock_owner).where(job_lock_owner.c.name == "reindex"))
            conn.execute(insert(job_lock_owner).values(name="reindex", owner=owner))

    def release(self) -> None:
        with self._guard:
            conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.KEY})
            conn.commit()
        finally:
            conn.close()

    def holder(self) -> str:
        try:
            with self._engine.connect() as conn:
                owner = conn.execute(
                    select(job_lock_owner.c.owner).where(job_lock_owner.c.name == "reindex")
                ).scalar()
        except SQLAlchemyError:
            return "?"
        return owner or "?"


def job_lock(settings):
    """The lock every server of a deployment shares: on PostgreSQL its advisory lock, else the
    lock file in the data folder (one machine)."""
    if make_url(settings.sql_url()).get_backend_name() == "postgresql":
        return AdvisoryJobLock(settings)
    return JobLock(settings.data_dir / "admin-job.lock")
