"""Two limits: questions per user (ours), and requests to Telegram (its flood limits and 429s)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter

from bot.settings import Settings
from bot.state import SharedRateLimiter

logger = logging.getLogger(__name__)

RETRY_AFTER_ATTEMPTS = 3  # a 429 is waited out this many times before giving up
NETWORK_ATTEMPTS = 3  # retries of a request that failed on the network
NETWORK_BACKOFF_SECONDS = 0.5


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_in: int = 0  # seconds until the user may ask again
    notify: bool = False  # tell the user (once per burst, so a flood gets one reply, not many)


class UserRateLimiter:
    """At most `per_minute` questions per user in any 60-second window; 0 turns it off.

    The window is counted in the database for every process (bot/state.py); this adds telling
    the user once per burst.
    """

    def __init__(
        self, settings: Settings, per_minute: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.per_minute = per_minute
        self._window = SharedRateLimiter(settings, per_minute, "telegram", clock=clock)
        self._warned: set[int] = set()  # this process's: at worst each process tells once

    def check(self, user_id: int) -> Decision:
        """Count a question from the user, or say how long to wait."""
        wait = self._window.check(user_id)
        if not wait:
            self._warned.discard(user_id)
            return Decision(True)
        notify = user_id not in self._warned
        self._warned.add(user_id)
        return Decision(False, wait, notify)


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
