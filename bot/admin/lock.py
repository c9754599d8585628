"""One re-index job at a time, across threads and processes: an exclusive lock on a file.

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
