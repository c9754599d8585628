"""The answers the buttons point to, in the database, so a button works whichever process gets the
press (the chats' histories and limits are shared the same way: bot/state.py).

A button carries a short random id. Its row keeps the answer, the chat, the usage log's id of the
question (filled in once the log writes it) and who voted, for `KEEP_SECONDS`. While the database
fails, this process's own recent answers still serve their buttons.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from cachetools import FIFOCache
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from bot.database import Bounded, metadata, ready
from bot.settings import Settings
from retrieval.contract import Answer

logger = logging.getLogger(__name__)

KEEP_SECONDS = 7 * 24 * 3600  # a button older than a week says the answer expired
LOCAL_ANSWERS = 2000  # this process's own, for its buttons while the database fails

sent_answers = Table(
    "telegram_sent_answers",
    metadata,
    Column("answer_id", Bounded(16), primary_key=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("answer", Text, nullable=False),  # the Answer, as JSON
    Column("question_id", Integer),  # the usage log's, once written
    Column("voters", Text, nullable=False),  # JSON list of Telegram user ids
    Column("sent_at", Float, nullable=False, index=True),
)


@dataclass
class SentAnswer:
    """An answer the bot sent, kept so its buttons can show sources and record votes."""

    answer: Answer
    chat_id: int
    question_id: int | None = None
    recorded: Future[int | None] | None = None  # in the process that sent it: the log's write
    voters: set[int] = field(default_factory=set)  # used while the database fails


class RecentAnswers:
    """Sent answers by the short id that fits in callback_data, shared through the database."""

    def __init__(self, settings: Settings, clock=time.time) -> None:
        self._settings, self._clock = settings, clock
        self._local: FIFOCache[str, SentAnswer] = FIFOCache(LOCAL_ANSWERS)

    def add(self, answer: Answer, chat_id: int, recorded: Future[int | None] | None = None) -> str:
        answer_id = secrets.token_urlsafe(6)  # 8 characters
        self._local[answer_id] = SentAnswer(answer, chat_id, recorded=recorded)
        now = self._clock()
        try:
            with self._engine().begin() as conn:
                conn.execute(
                    delete(sent_answers).where(sent_answers.c.sent_at < now - KEEP_SECONDS)
                )
                conn.execute(insert(sent_answers).values(
                    answer_id=answer_id, chat_id=chat_id, answer=answer.model_dump_json(),
                    voters="[]", sent_at=now,
                ))  # fmt: skip
        except SQLAlchemyError as exc:
            logger.warning("Answer buttons served by this process only (database: %s)", exc)
        if recorded is not None:
            recorded.add_done_callback(lambda done: self._linked(answer_id, done))
        return answer_id

    def get(self, answer_id: str) -> SentAnswer | None:
        local = self._local.get(answer_id)
        try:
            with self._engine().connect() as conn:
                row = conn.execute(
                    select(sent_answers).where(sent_answers.c.answer_id == answer_id)
                ).first()
        except SQLAlchemyError as exc:
            logger.warning("Sent answer read from this process only (database: %s)", exc)
            return local
        if row is None or row.sent_at < self._clock() - KEEP_SECONDS:
            return local
        answer = Answer.model_validate_json(row.answer)
        recorded = local.recorded if local else None
        return SentAnswer(answer, row.chat_id, row.question_id, recorded)

    def vote(self, answer_id: str, voter: int) -> bool:
        """Note the voter's vote on the answer; False if they had voted on it already."""
        try:
            with self._engine().begin() as conn:
                row = conn.execute(
                    select(sent_answers.c.voters)
                    .where(sent_answers.c.answer_id == answer_id)
                    .with_for_update()
                ).first()
                if row is not None:
                    voters = json.loads(row.voters)
                    if voter in voters:
                        return False
                    conn.execute(
                        update(sent_answers)
                        .where(sent_answers.c.answer_id == answer_id)
                        .values(voters=json.dumps([*voters, voter]))
                    )
                    return True
        except SQLAlchemyError as exc:
            logger.warning("Vote checked by this process only (database: %s)", exc)
        local = self._local.get(answer_id)
        if local is not None:
            if voter in local.voters:
                return False
            local.voters.add(voter)
        return True

    def _linked(self, answer_id: str, done: Future) -> None:
        """The usage log wrote the question: its id goes with the answer, for every process."""
        if done.cancelled() or done.exception() is not None or done.result() is None:
            return
        try:
            with self._engine().begin() as conn:
                conn.execute(
                    update(sent_answers)
                    .where(sent_answers.c.answer_id == answer_id)
                    .values(question_id=done.result())
                )
        except SQLAlchemyError as exc:
            logger.warning("Question id of a sent answer not kept (database: %s)", exc)

    def _engine(self):
        return ready(self._settings, sent_answers)
