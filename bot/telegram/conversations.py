"""Per-chat memory: the last turns of each conversation, and the answers the buttons point to."""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from cachetools import FIFOCache, TTLCache

from retrieval.contract import Answer, Turn

Clock = Callable[[], float]
MAX_CHATS = 100_000  # chats remembered at once (a few KB each)


class Conversations:
    """The last `max_turns` turns of each chat, forgotten after `ttl_seconds` of silence (at most
    `max_chats` chats, the least recently active dropped first)."""

    def __init__(
        self,
        max_turns: int,
        ttl_seconds: float,
        clock: Clock = time.monotonic,
        max_chats: int = MAX_CHATS,
    ) -> None:
        self._max_turns = max_turns
        self._chats: TTLCache[int, deque[Turn]] = TTLCache(max_chats, ttl_seconds, timer=clock)

    def history(self, chat_id: int) -> list[Turn]:
        return list(self._chats.get(chat_id, ()))

    def remember(self, chat_id: int, turn: Turn) -> None:
        turns = self._chats.get(chat_id) or deque(maxlen=self._max_turns)
        turns.append(turn)
        self._chats[chat_id] = turns  # set again: activity restarts the idle clock

    def forget(self, chat_id: int) -> None:
        self._chats.pop(chat_id, None)

    def __len__(self) -> int:
        self._chats.expire()
        return len(self._chats)


@dataclass
class SentAnswer:
    """An answer the bot sent, kept so its buttons can show sources and record votes."""

    answer: Answer
    chat_id: int
    voters: set[int] = field(default_factory=set)
    recorded: Future[int | None] | None = None  # the question's id in the usage log, once written


class RecentAnswers:
    """The last `capacity` answers, by a short random id that fits in callback_data."""

    def __init__(self, capacity: int = 2000) -> None:
        self._answers: FIFOCache[str, SentAnswer] = FIFOCache(capacity)

    def add(self, answer: Answer, chat_id: int, recorded: Future[int | None] | None = None) -> str:
        answer_id = secrets.token_urlsafe(6)  # 8 characters
        self._answers[answer_id] = SentAnswer(answer, chat_id, recorded=recorded)
        return answer_id

    def get(self, answer_id: str) -> SentAnswer | None:
        return self._answers.get(answer_id)
