"""One re-index at a time for a whole deployment: on PostgreSQL the job lock is the database's, so
servers with data folders of their own (other machines) exclude each other, and a holder that
dies frees it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.admin.lock import AdvisoryJobLock, JobLock, job_lock
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import sys, time
from bot.admin.lock import job_lock
from bot.settings import load_settings
lock = job_lock(load_settings(data_dir=sys.argv[1]))
assert lock.try_acquire("trabajo-del-muerto")
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def machines(tmp_path, postgres):
    """Two servers' settings: one PostgreSQL database, a data folder each."""
    url = postgres.new_database()
    return [load_settings(data_dir=tmp_path / name, database_url=url) for name in ("a", "b")]


def test_servers_on_other_machines_exclude_each_other(machines):
    one, other = (job_lock(settings) for settings in machines)
    assert isinstance(one, AdvisoryJobLock)

    assert one.try_acquire("trabajo-1")
    assert not other.try_acquire("trabajo-2") and other.holder() == "trabajo-1"
    one.transfer("trabajo-1b")
    assert other.holder() == "trabajo-1b"
    one.release()
    assert other.try_acquire("trabajo-2") and not one.try_acquire("trabajo-3")
    other.release()


def test_a_holder_killed_mid_job_frees_the_lock(machines):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EXPORTA_DATABASE_URL": machines[0].database_url}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(machines[0].data_dir)], env=env, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = job_lock(machines[1])
        assert not lock.try_acquire("nuevo") and lock.holder() == "trabajo-del-muerto"
        holder.kill()  # kill -9
        holder.wait(10)
        deadline = time.monotonic() + 10
        while not lock.try_acquire("nuevo"):  # the server notices the closed connection
            assert time.monotonic() < deadline, "the dead holder's lock was never freed"
            time.sleep(0.1)
        lock.release()
    finally:
        holder.kill()


def test_on_sqlite_the_lock_is_the_data_folder_s_file(tmp_path):
    assert isinstance(job_lock(load_settings(data_dir=tmp_path)), JobLock)
