"""The one SQL database: SQLite at <data_dir>/exporta.db by default, any SQLAlchemy URL in settings.

Each module that keeps records (usage log, audit log, jobs, document versions) declares its tables
on `metadata` and calls `create_tables(engine, ...)` for them; `connect(settings)` gives the engine.
"""

from __future__ import annotations

import logging
import threading
from functools import cache

from sqlalchemy import Engine, MetaData, Table, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import Settings

logger = logging.getLogger(__name__)

metadata = MetaData()


def connect(settings: Settings) -> Engine:
    """The engine for the configured database (one per URL and process)."""
    return _engine(settings.sql_url())


@cache
def _engine(url: str) -> Engine:
    parsed = make_url(url)
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


_creating = threading.Lock()


def create_tables(engine: Engine, *tables: Table) -> None:
    """Create the given tables if they do not exist yet (safe for threads and processes)."""
    with _creating:
        try:
            metadata.create_all(engine, tables=list(tables))
        except SQLAlchemyError:
            # Another process created them between the check and the CREATE: the second look
            # finds them; any other failure raises again.
            metadata.create_all(engine, tables=list(tables))
