"""👍/👎 votes on answers, with the question and answer they judge (no user ids are kept)."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from retrieval.contract import Answer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Feedback:
    helpful: bool
    question: str
    answer: str
    abstained: bool
    sources: list[str]
    channel: str = "telegram"
    chat_type: str = ""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @classmethod
    def about(cls, answer: Answer, helpful: bool, chat_type: str = "") -> Feedback:
        return cls(
            helpful=helpful,
            question=answer.question,
            answer=answer.answer,
            abstained=answer.abstained,
            sources=[s.citation() for s in answer.sources],
            chat_type=chat_type,
        )


class FeedbackRecorder(Protocol):
    def record(self, feedback: Feedback) -> None: ...


class MemoryFeedback:
    """Keeps votes in a list (tests, or a bot run without a data folder)."""

    def __init__(self) -> None:
        self.entries: list[Feedback] = []

    def record(self, feedback: Feedback) -> None:
        self.entries.append(feedback)


class JsonlFeedback:
    """Appends one JSON object per vote to a file, for review with the gold questions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, feedback: Feedback) -> None:
        line = json.dumps(asdict(feedback), ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        logger.info("Feedback recorded in %s (helpful=%s)", self.path, feedback.helpful)
