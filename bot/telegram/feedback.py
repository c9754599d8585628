"""👍/👎 votes on answers, with the question and answer they judge, kept in the usage log."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from bot.usage import UsageLog, source_ref
from retrieval.contract import Answer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Feedback:
    helpful: bool
    question: str
    answer: str
    abstained: bool
    sources: list[dict]
    voter: int | None = None  # Telegram user id: the usage log keeps only its salted hash
    question_id: int | None = None  # the judged question in the usage log
    channel: str = "telegram"
    chat_type: str = ""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @classmethod
    def about(
        cls,
        answer: Answer,
        helpful: bool,
        chat_type: str = "",
        *,
        voter: int | None = None,
        question_id: int | None = None,
    ) -> Feedback:
        return cls(
            helpful=helpful,
            question=answer.question,
            answer=answer.answer,
            abstained=answer.abstained,
            sources=[source_ref(s) for s in answer.sources],
            voter=voter,
            question_id=question_id,
            chat_type=chat_type,
        )


class FeedbackRecorder(Protocol):
    def record(self, feedback: Feedback) -> None:
        """Called on the event loop: must return at once."""


class MemoryFeedback:
    """Keeps votes in a list (tests)."""

    def __init__(self) -> None:
        self.entries: list[Feedback] = []

    def record(self, feedback: Feedback) -> None:
        self.entries.append(feedback)


class UsageFeedback:
    """Votes into the usage log's database; the write is queued, the button answers at once."""

    def __init__(self, usage: UsageLog) -> None:
        self.usage = usage

    def record(self, feedback: Feedback) -> None:
        self.usage.submit_vote(
            channel=feedback.channel,
            user_id=feedback.voter,
            question_id=feedback.question_id,
            vote=1 if feedback.helpful else -1,
            question=feedback.question,
            answer_text=feedback.answer,
            sources=feedback.sources,
        )
        logger.info("Vote queued for the usage log (helpful=%s)", feedback.helpful)
