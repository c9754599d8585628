"""Two limits: questions per user (ours), and requests to Telegram (its flood limits and 429s)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
RETRY_AFTER_ATTEMPTS = 3  # a 429 is waited out this many times before giving up
NETWORK_ATTEMPTS = 3  # retries of a request that failed on the network
NETWORK_BACKOFF_SECONDS = 0.5


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_in: int = 0  # seconds until the user may ask again
    notify: bool = False  # tell the user (once per burst, so a flood gets one reply, not many)


class UserRateLimiter:
    """At most `per_minute` questions per user in any 60-second window; 0 turns it off."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._asked: dict[int, deque[float]] = {}
        self._warned: set[int] = set()

    def check(self, user_id: int) -> Decision:
        """Count a question from the user, or say how long to wait."""
        if self.per_minute <= 0:
            return Decision(True)
        now = self._clock()
        asked = self._asked.setdefault(user_id, deque())
        while asked and now - asked[0] >= WINDOW_SECONDS:
            asked.popleft()
        if len(asked) < self.per_minute:
            asked.append(now)
            self._warned.discard(user_id)
            self._forget_idle(now)
            return Decision(True)
        notify = user_id not in self._warned
        self._warned.add(user_id)
        return Decision(False, math.ceil(WINDOW_SECONDS - (now - asked[0])), notify)

    def _forget_idle(self, now: float) -> None:
        if len(self._asked) < 10_000:
            return
        idle = [
            u for u, times in self._asked.items() if not times or now - times[-1] >= WINDOW_SECONDS
        ]
        for user_id in idle:
            del self._asked[user_id]


class TelegramLimiter(AIORateLimiter):
    """AIORateLimiter (flood limits, 429 retry_after waited out) that also retries network errors.

    Telegram's 400s (BadRequest, a NetworkError subclass in PTB) are not retried: resending the
    same request cannot fix it.
    """

    def __init__(
        self,
        network_attempts: int = NETWORK_ATTEMPTS,
        network_backoff: float = NETWORK_BACKOFF_SECONDS,
    ) -> None:
        super().__init__(max_retries=RETRY_AFTER_ATTEMPTS)
        self._network_attempts = network_attempts
        self._network_backoff = network_backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        for attempt in range(self._network_attempts + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except BadRequest:
                raise
            except NetworkError as exc:
                if attempt == self._network_attempts:
                    raise
                delay = self._network_backoff * 2**attempt
                logger.warning("Telegram %s failed (%s); retrying in %.1f s", endpoint, exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")
