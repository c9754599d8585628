"""State every server process shares, in the SQL database: rate-limit windows and chat histories.

With `exporta serve --workers N`, or several servers behind a proxy on one PostgreSQL, a client's
limit and a chat's history are the same whichever process answers. Each operation is one short
transaction that locks its one row: the first statement writes (so SQLite takes its write lock at
once), then the row is read `FOR UPDATE` (PostgreSQL's row lock) and written back.

If the database fails, the process goes on with what it holds itself (its own window, no
history) and logs it: answers never stop because of this state.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Hashable

from sqlalchemy import Column, Connection, Float, Table, Text, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from bot.database import Bounded, metadata, ready
from bot.ratelimit import RateLimiter
from bot.settings import Settings
from retrieval.contract import Turn

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
SWEEP_EVERY_SECONDS = 600.0  # idle rows (windows and histories past their time) are deleted

rate_windows = Table(
    "rate_windows",
    metadata,
    Column("key", Bounded(200), primary_key=True),  # "web:203.0.113.7", "telegram:12345"
    Column("hits", Text, nullable=False),  # JSON list of epoch seconds inside the window
    Column("last_at", Float, nullable=False, index=True),
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
            logger.warning("Rate limit counted in this process only (database: %s)", exc)
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
        scope: str = "telegram",
        clock: Clock = time.time,
    ) -> None:
        self._settings, self.max_turns, self.ttl = settings, max_turns, ttl_seconds
        self.scope, self._clock = scope, clock
        self._sweep = _Swept(conversations, ttl_seconds)

    def history(self, chat_id: int) -> list[Turn]:
        now = self._clock()
        try:
            with self._engine().connect() as conn:
                row = conn.execute(
                    select(conversations).where(conversations.c.key == self._key(chat_id))
                ).first()
        except SQLAlchemyError as exc:
            logger.warning("Chat history unavailable, answered without it (database: %s)", exc)
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
            logger.warning("Chat turn not kept (database: %s)", exc)

    def forget(self, chat_id: int) -> None:
        try:
            with self._engine().begin() as conn:
                conn.execute(delete(conversations).where(conversations.c.key == self._key(chat_id)))
        except SQLAlchemyError as exc:
            logger.warning("Chat history not forgotten (database: %s)", exc)

    def _key(self, chat_id: int) -> str:
        return f"{self.scope}:{chat_id}"

    def _engine(self):
        return ready(self._settings, conversations)
