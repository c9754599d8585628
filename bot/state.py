"""State every server process shares, in the SQL database: rate-limit windows, chat histories
and the answers Telegram's buttons point to.

With `exporta serve --workers N`, or several servers behind a proxy on one PostgreSQL, a client's
limit and a chat's history are the same whichever process answers. Each operation is one short
transaction that locks its one row: the first statement writes (so SQLite takes its write lock at
once), then the row is read `FOR UPDATE` (PostgreSQL's row lock) and written back.

If the database fails, the process goes on with what it holds itself (its own window, no
history, its own recent answers) and logs it: answers never stop because of this state.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field

from cachetools import FIFOCache
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Integer,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from bot.database import Bounded, driver_message, metadata, ready
from bot.ratelimit import RateLimiter
from bot.settings import Settings
from retrieval.contract import Answer, Turn

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
SWEEP_EVERY_SECONDS = 600.0  # idle rows (windows and histories past their time) are deleted
KEEP_ANSWERS_SECONDS = 7 * 24 * 3600  # a button older than a week says the answer expired
LOCAL_ANSWERS = 2000  # this process's own, for its buttons while the database fails

rate_windows = Table(
    "rate_windows",
    metadata,
    Column("key", Bounded(200), primary_key=True),  # "web:203.0.113.7", "telegram:12345"
    Column("hits", Text, nullable=False),  # JSON list of epoch seconds inside the window
    Column("last_at", Float, nullable=False, index=True),
)

sent_answers = Table(
    "telegram_sent_answers",
    metadata,
    Column("key", Bounded(16), primary_key=True),  # the short id a button carries
    Column("chat_id", BigInteger, nullable=False),
    Column("answer", Text, nullable=False),  # the Answer, as JSON
    Column("question_id", Integer),  # the usage log's, once written
    Column("voters", Text, nullable=False),  # JSON list of Telegram user ids
    Column("last_at", Float, nullable=False, index=True),  # when it was sent
)

conversations = Table(
    "conversations",
    metadata,
    Column("key", Bounded(200), primary_key=True),  # "telegram:<chat id>"
    Column("turns", Text, nullable=False),  # JSON list of {question, answer}
    Column("last_at", Float, nullable=False, index=True),
)


def _locked_row(conn: Connection, table: Table, key: str, now: float, **empty: str):
    """The row of `key`, created (with the `empty` values) if missing, locked for this
    transaction."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(table).values(key=key, last_at=now, **empty).on_conflict_do_nothing()
    )
    return conn.execute(select(table).where(table.c.key == key).with_for_update()).one()


def _existing_row(conn: Connection, table: Table, key: str):
    """The row of `key` locked for this transaction, or None (a write first, as above)."""
    conn.execute(update(table).where(table.c.key == key).values(last_at=table.c.last_at))
    return conn.execute(select(table).where(table.c.key == key).with_for_update()).first()


class _Swept:
    """Deletes the table's rows idle for longer than `idle_seconds`, now and then."""

    def __init__(self, table: Table, idle_seconds: float) -> None:
        self.table, self.idle_seconds, self._at = table, idle_seconds, -math.inf

    def __call__(self, conn: Connection, now: float) -> None:
        if now - self._at < SWEEP_EVERY_SECONDS:
            return
        self._at = now
        conn.execute(delete(self.table).where(self.table.c.last_at < now - self.idle_seconds))


class SharedRateLimiter:
    """`limit` requests per client in any window of `window` seconds, counted in the database
    for every process; 0 turns it off. `check` as RateLimiter's: 0, or the seconds to wait."""

    def __init__(
        self,
        settings: Settings,
        limit: int,
        scope: str,
        window: float = 60.0,
        clock: Clock = time.time,
    ) -> None:
        self.limit, self.scope, self.window, self._clock = limit, scope, window, clock
        self._settings = settings
        self._local = RateLimiter(limit, window, clock)  # while the database fails
        self._sweep = _Swept(rate_windows, window)

    def check(self, client: Hashable) -> int:
        if self.limit <= 0:
            return 0
        try:
            return self._check(f"{self.scope}:{client}")
        except SQLAlchemyError as exc:
            logger.warning(
                "Rate limit counted in this process only (database: %s)", driver_message(exc)
            )
            return self._local.check(client)

    def _check(self, key: str) -> int:
        now = self._clock()
        with ready(self._settings, rate_windows).begin() as conn:
            row = _locked_row(conn, rate_windows, key, now, hits="[]")
            hits = [t for t in json.loads(row.hits) if t > now - self.window]
            wait = 0
            if len(hits) >= self.limit:
                wait = max(1, math.ceil(hits[0] + self.window - now))
            else:
                hits.append(now)
            conn.execute(
                update(rate_windows)
                .where(rate_windows.c.key == key)
                .values(hits=json.dumps(hits), last_at=now)
            )
            self._sweep(conn, now)
        return wait


class SharedConversations:
    """The last `max_turns` turns of each chat, forgotten after `ttl_seconds` of silence, kept in
    the database so any process continues the conversation."""

    def __init__(
        self,
        settings: Settings,
        max_turns: int,
        ttl_seconds: float,
        clock: Clock = time.time,
    ) -> None:
        self._settings, self.max_turns, self.ttl = settings, max_turns, ttl_seconds
        self._clock = clock
        self._sweep = _Swept(conversations, ttl_seconds)

    def history(self, chat_id: int) -> list[Turn]:
        now = self._clock()
        try:
            with self._engine().connect() as conn:
                row = conn.execute(
                    select(conversations).where(conversations.c.key == self._key(chat_id))
                ).first()
        except SQLAlchemyError as exc:
            logger.warning(
                "Chat history unavailable, answered without it (database: %s)", driver_message(exc)
            )
            return []
        if row is None or row.last_at <= now - self.ttl:
            return []
        return [Turn(**turn) for turn in json.loads(row.turns)]

    def remember(self, chat_id: int, turn: Turn) -> None:
        now, key = self._clock(), self._key(chat_id)
        try:
            with self._engine().begin() as conn:
                row = _locked_row(conn, conversations, key, now, turns="[]")
                kept = json.loads(row.turns) if row.last_at > now - self.ttl else []
                turns = [*kept, turn.model_dump()][-self.max_turns :]
                conn.execute(
                    update(conversations)
                    .where(conversations.c.key == key)
                    .values(turns=json.dumps(turns, ensure_ascii=False), last_at=now)
                )
                self._sweep(conn, now)
        except SQLAlchemyError as exc:
            logger.warning("Chat turn not kept (database: %s)", driver_message(exc))

    def forget(self, chat_id: int) -> None:
        try:
            with self._engine().begin() as conn:
                conn.execute(delete(conversations).where(conversations.c.key == self._key(chat_id)))
        except SQLAlchemyError as exc:
            logger.warning("Chat history not forgotten (database: %s)", driver_message(exc))

    @staticmethod
    def _key(chat_id: int) -> str:
        return f"telegram:{chat_id}"

    def _engine(self):
        return ready(self._settings, conversations)


@dataclass
class SentAnswer:
    """An answer the bot sent, kept so its buttons can show sources and record votes."""

    answer: Answer
    chat_id: int
    question_id: int | None = None
    recorded: Future[int | None] | None = None  # in the process that sent it: the log's write
    voters: set[int] = field(default_factory=set)  # used while the database fails


class SharedAnswers:
    """The answers Telegram's buttons point to, by the short id that fits in callback_data: the
    answer, its chat, the usage log's id of the question (filled in once the log writes it) and
    who voted, for KEEP_ANSWERS_SECONDS, so a button works whichever process gets the press."""

    def __init__(self, settings: Settings, clock: Clock = time.time) -> None:
        self._settings, self._clock = settings, clock
        self._local: FIFOCache[str, SentAnswer] = FIFOCache(LOCAL_ANSWERS)
        self._sweep = _Swept(sent_answers, KEEP_ANSWERS_SECONDS)

    def add(self, answer: Answer, chat_id: int, recorded: Future[int | None] | None = None) -> str:
        answer_id = secrets.token_urlsafe(6)  # 8 characters
        self._local[answer_id] = SentAnswer(answer, chat_id, recorded=recorded)
        now = self._clock()
        try:
            with self._engine().begin() as conn:
                conn.execute(insert(sent_answers).values(
                    key=answer_id, chat_id=chat_id, answer=answer.model_dump_json(),
                    voters="[]", last_at=now,
                ))  # fmt: skip
                self._sweep(conn, now)
        except SQLAlchemyError as exc:
            logger.warning(
                "Answer buttons served by this process only (database: %s)", driver_message(exc)
            )
        if recorded is not None:
            recorded.add_done_callback(lambda done: self._linked(answer_id, done))
        return answer_id

    def get(self, answer_id: str) -> SentAnswer | None:
        local = self._local.get(answer_id)
        try:
            with self._engine().connect() as conn:
                row = conn.execute(
                    select(sent_answers).where(sent_answers.c.key == answer_id)
                ).first()
        except SQLAlchemyError as exc:
            logger.warning(
                "Sent answer read from this process only (database: %s)", driver_message(exc)
            )
            return local
        if row is None or row.last_at < self._clock() - KEEP_ANSWERS_SECONDS:
            return local
        answer = Answer.model_validate_json(row.answer)
        return SentAnswer(answer, row.chat_id, row.question_id, local and local.recorded)

    def vote(self, answer_id: str, voter: int) -> bool:
        """Note the voter's vote on the answer; False if they had voted on it already."""
        try:
            with self._engine().begin() as conn:
                row = _existing_row(conn, sent_answers, answer_id)
                if row is not None:
                    voters = json.loads(row.voters)
                    if voter in voters:
                        return False
                    conn.execute(
                        update(sent_answers)
                        .where(sent_answers.c.key == answer_id)
                        .values(voters=json.dumps([*voters, voter]))
                    )
                    return True
        except SQLAlchemyError as exc:
            logger.warning("Vote checked by this process only (database: %s)", driver_message(exc))
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
                    .where(sent_answers.c.key == answer_id)
                    .values(question_id=done.result())
                )
        except SQLAlchemyError as exc:
            logger.warning(
                "Question id of a sent answer not kept (database: %s)", driver_message(exc)
            )

    def _engine(self):
        return ready(self._settings, sent_answers)
