"""A sliding window of the last minute's requests per client, in this process's memory: what
bot/state.py's shared limit falls back on while the database fails."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable

WINDOW_SECONDS = 60.0
SWEEP_EVERY = 1024  # requests between sweeps of clients idle for a whole window


class RateLimiter:
    """Allows `limit` requests per client in any window of `window` seconds; 0 disables it."""

    def __init__(
        self,
        limit: int,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._requests: dict[Hashable, deque[float]] = {}
        self._since_sweep = 0

    def check(self, client: Hashable) -> int:
        """Record a request; 0 if allowed, else the seconds to wait before the next one."""
        if self.limit <= 0:
            return 0
        now = self._clock()
        self._sweep(now)
        times = self._requests.setdefault(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return max(1, math.ceil(times[0] + self.window - now))
        times.append(now)
        return 0

    def _sweep(self, now: float) -> None:
        """Forget idle clients now and then, so memory stays bounded by the active ones."""
        self._since_sweep += 1
        if self._since_sweep < SWEEP_EVERY:
            return
        self._since_sweep = 0
        idle = [
            c for c, times in self._requests.items() if not times or times[-1] <= now - self.window
        ]
        for client in idle:
            del self._requests[client]
