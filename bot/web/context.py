"""What the web routes use: built once by `create_app` from what the composition root gives it,
and kept as `app.state.web`; routes reach it through `web(request)`."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from fastapi import Request

from bot.settings import Settings
from bot.state import SharedRateLimiter
from bot.web.passages import PassageIndex
from retrieval.service import AnswerService

if TYPE_CHECKING:
    from bot.admin.jobs import JobRunner
    from bot.admin.versions import VersionHistory
    from bot.usage import UsageLog

ANSWER_THREADS = 4  # questions answered at once; the others wait their turn


class LiveService:
    """The answering service as of the last commit: reloaded after each staff job, and opened
    by `open_service` once the first document is indexed (None until then)."""

    def __init__(
        self,
        service: AnswerService | None,
        open_service: Callable[[], AnswerService] | None = None,
    ) -> None:
        self.current = service
        self._open = open_service
        self._guard = threading.Lock()

    def refresh(self) -> None:
        with self._guard:
            if self.current is not None:
                self.current.refresh()
            elif self._open is not None:
                self.current = self._open()


class WebContext:
    """The service, the staff job runner and usage log (None: not in this process), the
    per-client limit, and what the routes derive from them."""

    def __init__(
        self,
        live: LiveService,
        settings: Settings,
        admin: JobRunner | None = None,
        usage: UsageLog | None = None,
    ) -> None:
        self.live = live
        self.settings = settings
        self.admin = admin
        self.usage = usage
        self.rate_limiter = SharedRateLimiter(settings, settings.rate_limit_per_minute, "web")
        self._versions = admin.versions if admin is not None else None
        self._answer_limiter: anyio.CapacityLimiter | None = None
        self._passages: PassageIndex | None = None
        self._guard = threading.Lock()
        self._turns: dict[str, tuple[anyio.Lock, list[int]]] = {}  # client -> lock, waiting

    @property
    def service(self) -> AnswerService | None:
        return self.live.current

    @property
    def audit(self):
        return self.admin.audit if self.admin is not None else None

    def answer_limiter(self) -> anyio.CapacityLimiter:
        """Made on first use: it needs the running event loop."""
        if self._answer_limiter is None:
            self._answer_limiter = anyio.CapacityLimiter(ANSWER_THREADS)
        return self._answer_limiter

    @asynccontextmanager
    async def one_at_a_time(self, client: str) -> AsyncIterator[None]:
        """One question of a client answered at a time; its others wait their turn, so one
        client cannot take every answering thread (only the event loop touches this)."""
        lock, waiting = self._turns.setdefault(client, (anyio.Lock(), [0]))
        waiting[0] += 1
        try:
            async with lock:
                yield
        finally:
            waiting[0] -= 1
            if not waiting[0]:
                del self._turns[client]

    def versions(self) -> VersionHistory:
        """The version history (the job runner's; else opened on first use)."""
        from bot.admin.versions import VersionHistory

        with self._guard:
            if self._versions is None:
                self._versions = VersionHistory(self.settings)
            return self._versions

    def passages(self) -> PassageIndex | None:
        """The passages of the index the service answers from now (rebuilt after a re-index)."""
        service = self.service
        if service is None:
            return None
        chunks = service.retriever.chunks
        with self._guard:
            if self._passages is None or not self._passages.holds(chunks):
                self._passages = PassageIndex(chunks)
            return self._passages


def web(request: Request) -> WebContext:
    return request.app.state.web
