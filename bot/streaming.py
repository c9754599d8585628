"""A blocking iterator (an answer being made) consumed from async code, item by item, as it comes.

The answer's retrieval and a language model's HTTP stream block, so they run on a worker thread;
the channel (the web stream, Telegram's edited message) awaits each event without blocking the
event loop. Closing the async iterator early (a client that left) stops the worker at its next
event.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


async def streamed(
    make: Callable[[], Iterator[T]], limiter: contextlib.AbstractAsyncContextManager | None = None
) -> AsyncIterator[T]:
    """The items of `make()`, produced on a worker thread while `limiter` (a capacity limiter
    of answering threads) is held; an exception of the worker is raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def put(item: object, error: BaseException | None = None) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is already gone
            loop.call_soon_threadsafe(queue.put_nowait, (item, error))

    def work() -> None:
        try:
            for item in make():
                if stop.is_set():
                    return
                put(item)
        except BaseException as exc:
            put(None, exc)
        finally:
            put(_END)

    async with limiter or contextlib.nullcontext():
        threading.Thread(target=work, name="exporta-answer", daemon=True).start()
        try:
            while True:
                item, error = await queue.get()
                if error is not None:
                    raise error
                if item is _END:
                    return
                yield item
        finally:
            stop.set()
