"""Per-chat memory: the last turns of each conversation, and the answers the buttons point to."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from retrieval.contract import Answer, Turn

Clock = Callable[[], float]
PRUNE_EVERY_SECONDS = 60.0


@dataclass
class _Chat:
    turns: deque[Turn]
    last_seen: float


class Conversations:
    """The last `max_turns` turns of each chat, forgotten after `ttl_seconds` of silence."""

    def __init__(self, max_turns: int, ttl_seconds: float, clock: Clock = time.monotonic) -> None:
        self._max_turns = max_turns
        self._ttl = ttl_seconds
        self._clock = clock
        self._chats: dict[int, _Chat] = {}
        self._pruned_at = clock()

    def history(self, chat_id: int) -> list[Turn]:
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        if self._clock() - chat.last_seen > self._ttl:
            del self._chats[chat_id]
            return []
        return list(chat.turns)

    def remember(self, chat_id: int, turn: Turn) -> None:
        now = self._clock()
        self._prune(now)
        chat = self._chats.get(chat_id)
        if chat is None or now - chat.last_seen > self._ttl:
            chat = self._chats[chat_id] = _Chat(deque(maxlen=self._max_turns), now)
        chat.turns.append(turn)
        chat.last_seen = now

    def forget(self, chat_id: int) -> None:
        self._chats.pop(chat_id, None)

    def __len__(self) -> int:
        return len(self._chats)

    def _prune(self, now: float) -> None:
        """Drop expired chats now and then, so silent chats do not pile up in memory."""
        if now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        for chat_id in [c for c, chat in self._chats.items() if now - chat.last_seen > self._ttl]:
            del self._chats[chat_id]


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
        self._capacity = capacity
        self._answers: OrderedDict[str, SentAnswer] = OrderedDict()

    def add(self, answer: Answer, chat_id: int, recorded: Future[int | None] | None = None) -> str:
        answer_id = secrets.token_urlsafe(6)  # 8 characters
        self._answers[answer_id] = SentAnswer(answer, chat_id, recorded=recorded)
        while len(self._answers) > self._capacity:
            self._answers.popitem(last=False)
        return answer_id

    def get(self, answer_id: str) -> SentAnswer | None:
        return self._answers.get(answer_id)
