"""The answers the buttons point to (the chats' histories are shared state: bot/state.py)."""

from __future__ import annotations

import secrets
from concurrent.futures import Future
from dataclasses import dataclass, field

from cachetools import FIFOCache

from retrieval.contract import Answer


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
