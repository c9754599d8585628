"""The one SQL database: SQLite at <data_dir>/exporta.db by default, any SQLAlchemy URL in settings.

Each module that keeps records (usage log, audit log, jobs, document versions) declares its tables
on `metadata` and calls `create_tables(engine, ...)` for them; `connect(settings)` gives the engine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    TypeDecorator,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import Settings

logger = logging.getLogger(__name__)

metadata = MetaData()
# Peru's time, for display only: every moment is kept and passed around as aware UTC.
LIMA = ZoneInfo("America/Lima")


def utc_now() -> datetime:
    """Now, timezone-aware UTC: the one way Exporta stamps a moment."""
    return datetime.now(UTC)


def lima(moment: datetime) -> str:
    """A moment as people in Peru read it: '2025-03-01 09:30'."""
    return moment.astimezone(LIMA).strftime("%Y-%m-%d %H:%M")


class UtcDateTime(TypeDecorator):
    """A moment column: aware UTC in Python; `timestamptz` in PostgreSQL, and in SQLite the
    fixed-width text of a naive UTC `DateTime` (so text order is time order). Naive values
    given to it are UTC; ISO text from older rows is read too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        moment = _aware(value)
        if dialect.name == "sqlite":
            return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return moment

    def process_result_value(self, value, dialect):
        return None if value is None else _aware(value)


def _aware(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def connect(settings: Settings) -> Engine:
    """The engine for the configured database (one per URL and process)."""
    return _engine(settings.sql_url())


@cache
def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":  # a server that is down fails in seconds
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        from pathlib import Path

        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        # WAL: readers (the web app) never wait for the writer (a re-index job) and vice versa.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class Bounded(TypeDecorator):
    """Text of at most `length` characters: a longer value is cut (ending in "…") when it is
    written, since SQLite would keep it whole and PostgreSQL refuse the row; so no client can
    grow a row past what its table declares."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        length = self.impl.length
        if isinstance(value, str) and length and len(value) > length:
            return value[: length - 1] + "…"
        return value


_created: set[tuple[str, str]] = set()  # (database URL, table) made by this process


def ready(settings: Settings, *tables: Table) -> Engine:
    """The engine, with `tables` created on first use (a database down at start-up is fine: the
    first call after it returns creates them)."""
    engine, url = connect(settings), settings.sql_url()
    missing = [table for table in tables if (url, table.name) not in _created]
    if missing:
        create_tables(engine, *missing)
        _created.update((url, table.name) for table in missing)
    return engine


def driver_message(error: Exception) -> str:
    """A database error as the driver words it, without the SQL and its parameters (a question,
    a user hash, a client address): what the logs and /readyz may show."""
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0][:300]


def reachable(settings: Settings) -> str | None:
    """None if the database answers; else why not (the driver's words)."""
    try:
        with connect(settings).connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return driver_message(exc)
    return None


_creating = threading.Lock()


def create_tables(engine: Engine, *tables: Table) -> None:
    """Create the given tables if they do not exist yet, and add the columns a newer version
    declares to tables an older one created (safe for threads and processes)."""
    with _creating:
        try:
            metadata.create_all(engine, tables=list(tables))
        except SQLAlchemyError:
            # Another process created them between the check and the CREATE: the second look
            # finds them; any other failure raises again.
            metadata.create_all(engine, tables=list(tables))
        for table in tables:
            _add_new_columns(engine, table)


def _add_new_columns(engine: Engine, table: Table) -> None:
    """`ALTER TABLE … ADD COLUMN` for each declared column the database lacks; such a column
    must have a server default or allow NULL, so the rows already there stay valid."""
    present = {column["name"] for column in inspect(engine).get_columns(table.name)}
    quote = engine.dialect.identifier_preparer.quote
    for column in table.columns:
        if column.name in present:
            continue
        ddl = f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} "
        ddl += column.type.compile(engine.dialect)
        if column.server_default is not None:
            ddl += f" DEFAULT {column.server_default.arg}"
        if not column.nullable:
            ddl += " NOT NULL"
        try:
            with engine.begin() as conn:
                conn.execute(text(ddl))
        except SQLAlchemyError:
            # Another process added it first; if it is still missing, the failure was real.
            if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                raise
        logger.info("Database: column %s.%s added", table.name, column.name)


PURGE_EVERY = timedelta(hours=1)  # how often the logs drop the rows past their retention


class Periodic:
    """Whether a chore (a retention purge) is due: on the first call, then once per `every`."""

    def __init__(self, every: timedelta) -> None:
        self.every = every
        self._last: datetime | None = None
        self._lock = threading.Lock()

    def due(self, now: datetime) -> bool:
        with self._lock:
            if self._last is not None and now - self._last < self.every:
                return False
            self._last = now  # a failed chore is retried after `every`, not on every call
            return True

    def run(self, chore: Callable[[datetime], object], now: datetime, what: str) -> None:
        """`chore(now)` if it is due; a failure is logged (the driver's words), never raised."""
        if not self.due(now):
            return
        try:
            chore(now)
        except Exception as exc:
            logger.error("%s failed: %s", what, driver_message(exc))
