"""Progress of long indexing work, with the same figures on every channel: done, total, rate, ETA.

On a terminal `exporta ingest` draws a bar; anywhere else (`make run` piped, CI, a systemd journal)
it logs a line at least every LOG_EVERY_SECONDS, so a long first indexing never looks frozen. The
admin page and Telegram's /estado show the line `describe` writes for the running job.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from tqdm import tqdm

from prompts import message

logger = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 10.0


def describe(done: int, total: int, seconds: float) -> str:
    """'120 de 1500 fragmentos (8 %) · 2,1 fragmentos/s · quedan ~11 min' (figures as known)."""
    if total <= 0:
        return message("ingest.progress_preparing")
    parts = [message("ingest.progress_done", done=done, total=total, percent=100 * done // total)]
    if done > 0 and seconds > 0:
        rate = done / seconds
        parts.append(message("ingest.progress_rate", rate=f"{rate:.1f}".replace(".", ",")))
        if done < total:
            parts.append(message("ingest.progress_eta", eta=_duration((total - done) / rate)))
    return " · ".join(parts)


def announce(text: str) -> None:
    """A step of long work, on the same log as the progress lines."""
    logger.info("%s", text)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"


class Progress:
    """Counts indexed chunks; a bar on a terminal, else a log line at least every `every` seconds.

    `terminal=None` asks whether stderr is one; False is a quiet run (no bar, still the lines).
    """

    def __init__(
        self,
        total: int,
        terminal: bool | None = None,
        every: float = LOG_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.current = ""
        self._clock = clock
        self._started = clock()
        self._every = every
        self._stop = threading.Event()
        is_terminal = sys.stderr.isatty() if terminal is None else terminal
        self._bar = tqdm(total=total, unit="frag", desc="Indexando") if is_terminal else None
        self._ticker = None if is_terminal else threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> Progress:
        if self._ticker is not None and self.total:
            self._ticker.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._ticker is not None and self._ticker.is_alive():
            self._ticker.join()
        if self._bar is not None:
            self._bar.close()
        elif self.total:
            logger.info("Indexado: %s", self.line())

    def advance(self, n: int, current: str | None = None) -> None:
        self.done += n
        if current is not None:
            self.current = current
        if self._bar is not None:
            self._bar.set_postfix_str(self.current, refresh=False)
            self._bar.update(n)

    def line(self) -> str:
        text = describe(self.done, self.total, self._clock() - self._started)
        return f"{text} · {self.current}" if self.current else text

    def _tick(self) -> None:
        while not self._stop.wait(self._every):
            logger.info("Indexando: %s", self.line())
