import logging
import threading
from datetime import UTC, datetime, timedelta

from bot.admin.joblog import Job
from ingest.progress import Progress, describe


def test_progress_says_done_total_rate_and_time_left():
    assert describe(0, 0, 5.0) == "preparando…"
    assert describe(0, 40, 0.0) == "0 de 40 fragmentos (0 %)"
    assert describe(10, 40, 4.0) == "10 de 40 fragmentos (25 %) · 2,5 fragmentos/s · quedan ~12 s"
    assert describe(10, 1000, 5.0).endswith("quedan ~8 min")
    assert describe(40, 40, 8.0) == "40 de 40 fragmentos (100 %) · 5,0 fragmentos/s"


def test_a_running_job_shows_the_same_figures_from_its_start_time():
    started = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    job = Job(
        "j1", "reindex", "running", "cli:ana", started, started_at=started, done=30, total=120
    )

    assert job.progress(now=started + timedelta(seconds=10)) == describe(30, 120, 10.0)
    assert job.to_dict()["progress"].startswith("30 de 120 fragmentos (25 %)")


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_a_line_is_logged_every_interval_while_work_goes_on(caplog):
    clock = ManualClock()
    caplog.set_level(logging.INFO, logger="ingest.progress")
    logged = threading.Event()
    handler = logging.Handler()
    handler.emit = lambda record: "Indexando: 50 de" in record.getMessage() and logged.set()
    logging.getLogger("ingest.progress").addHandler(handler)
    try:
        with Progress(200, terminal=False, every=0.05, clock=clock) as progress:
            clock.now = 10.0
            progress.advance(50, "plan-regional")
            assert logged.wait(5)  # a line comes on time, with no further advance
    finally:
        logging.getLogger("ingest.progress").removeHandler(handler)

    lines = [r.getMessage() for r in caplog.records]
    assert (
        "Indexando: 50 de 200 fragmentos (25 %) · 5,0 fragmentos/s · quedan ~30 s · plan-regional"
        in lines
    )
    assert lines[-1].startswith("Indexado: 50 de 200 fragmentos")


def test_on_a_terminal_a_bar_is_drawn_and_no_lines_are_logged(caplog):
    caplog.set_level(logging.INFO, logger="ingest.progress")
    with Progress(10, terminal=True, every=0.01) as progress:
        progress.advance(10, "plan")
    assert caplog.records == []
