"""The usage log: each question and vote in the SQL database, written without delaying answers.

Channels call `submit_*`: the write is queued to the log's own threads (never the event loop,
never the threads that compute answers) and the channel goes on at once; a failing database is
logged and skipped, so an answer is never lost or late because of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from bot.database import (
    PURGE_EVERY,
    Periodic,
    connect,
    create_tables,
    driver_message,
    utc_now,
)
from bot.settings import Settings
from bot.usage.identity import UserHasher, load_salt
from bot.usage.report import UsageReport, UsageUnavailable, build_report
from bot.usage.tables import questions, votes
from retrieval.contract import Answer, Source

logger = logging.getLogger(__name__)

QUESTION_CHARS = 4000  # a refused, oversized question is logged shortened
WRITER_THREADS = 2  # writes are tiny; more threads would only wait on the database's lock
MAX_QUEUED = 10_000
T = TypeVar("T")


def source_ref(source: Source) -> dict:
    """What identifies a cited passage in the log (its text stays in the index)."""
    return {
        "n": source.n,
        "doc_id": source.doc_id,
        "title": source.title,
        "page": source.page,
        "section": source.section,
        "chunk_id": source.chunk_id,
    }


def storable(text: str) -> str:
    """The text as every database keeps it: lone surrogates and NUL become U+FFFD (a refused
    question is still logged, as it was sent)."""
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\x00", "\ufffd")


def _nothing() -> Future:
    """A write that will not happen, already settled."""
    future: Future = Future()
    future.set_result(None)
    return future


class UsageLog:
    """Questions and 👍/👎 votes of every channel, with hashed user ids and a retention limit."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.retention = timedelta(days=settings.usage_retention_days)
        self._hash = UserHasher(load_salt(settings))
        self._tables_ready = False
        self._lock = threading.Lock()
        self._tables_lock = threading.Lock()
        self._purges = Periodic(PURGE_EVERY)
        self._writer = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="usage-log")
        self._queued: set[Future] = set()

    # Writing (blocking; channels use submit_*)

    def record_question(
        self,
        *,
        channel: str,
        user_id: str | int | None,
        question: str,
        answer: Answer | None,
        latency_ms: float,
        error: str | None = None,
    ) -> int | None:
        """Log one question; its id (for votes), or None if the database failed."""
        top = answer.sources[0] if answer and answer.sources else None
        row = {
            "asked_at": utc_now(),
            "channel": channel,
            "user_hash": self._hash(channel, user_id),
            "question": storable(question)[:QUESTION_CHARS],
            "abstained": answer.abstained if answer else None,
            "error": error,
            "top_doc_id": top.doc_id if top else None,
            "top_page": top.page if top else None,
            "top_section": top.section if top else None,
            "top_chunk_id": top.chunk_id if top else None,
            "latency_ms": round(latency_ms, 1),
            "written_by": answer.written_by if answer else None,
            "dropped_sentences": answer.dropped_sentences if answer else None,
        }
        return self._write(
            lambda conn: conn.execute(insert(questions), row).inserted_primary_key[0], "question"
        )

    def record_vote(
        self,
        *,
        channel: str,
        user_id: str | int | None,
        question_id: int | None,
        vote: int,
        question: str,
        answer_text: str,
        sources: list[dict],
        check_asker: bool = False,
    ) -> None:
        """Log a 👍 (+1) or 👎 (-1) on an answer, linked to its question when known. With
        `check_asker` (an id the client sent back, as on the web), only if that id is a question
        the same user asked on this channel with this text: checked in the database, so a vote
        sent to any process links, and a guessed or stale id is kept unlinked."""
        if vote not in (1, -1):
            raise ValueError(f"a vote is +1 or -1, not {vote!r}")
        user_hash = self._hash(channel, user_id)
        row = {
            "voted_at": utc_now(),
            "channel": channel,
            "user_hash": user_hash,
            "vote": vote,
            "question": question,
            "answer": answer_text,
            "sources": sources,
        }

        def write(conn: Connection) -> None:
            if not check_asker:
                conn.execute(insert(votes), {**row, "question_id": question_id})
                return
            asked = (
                question_id is not None
                and conn.execute(
                    select(questions.c.question).where(
                        (questions.c.id == question_id)
                        & (questions.c.channel == channel)
                        & (questions.c.user_hash == user_hash)
                    )
                ).scalar()
            )
            linked = bool(asked) and asked.split() == storable(question).split()
            if question_id is not None and not linked:
                logger.info("Vote on question id %s kept unlinked (not asked so)", question_id)
            conn.execute(insert(votes), {**row, "question_id": question_id if linked else None})

        self._write(write, "vote")

    def submit_question(self, **fields) -> Future[int | None]:
        """`record_question` queued to the log's own threads; returns at once, never raises."""
        return self._submit(partial(self.record_question, **fields))

    def submit_vote(self, **fields) -> Future[None]:
        """`record_vote` queued to the log's own threads; returns at once, never raises."""
        return self._submit(partial(self.record_vote, **fields))

    def flush(self, timeout: float | None = None) -> None:
        """Wait for the queued writes (tests, and a process about to stop)."""
        with self._lock:
            queued = list(self._queued)
        wait(queued, timeout=timeout)

    # Retention

    def purge(self, now: datetime | None = None) -> int:
        """Delete questions and votes older than the retention period; how many rows went."""
        cutoff = (now or utc_now()) - self.retention
        with self._begin() as conn:
            gone = conn.execute(delete(votes).where(votes.c.voted_at < cutoff)).rowcount
            gone += conn.execute(delete(questions).where(questions.c.asked_at < cutoff)).rowcount
        if gone:
            logger.info("Usage log: %d rows older than %s purged", gone, cutoff.date())
        return gone

    def purge_if_due(self, now: datetime | None = None) -> None:
        """Purge at start-up and then at most once an hour (called on writes); never raises."""
        self._purges.run(self.purge, now or utc_now(), "Usage log: purging old rows")

    # Reading

    def report(self, since: date | None = None) -> UsageReport:
        """Unanswered questions grouped, 👎 answers, questions per channel and day."""
        try:
            with self._begin() as conn:
                return build_report(conn, since)
        except (SQLAlchemyError, OSError) as exc:
            logger.error("Usage report failed: %s", driver_message(exc))
            raise UsageUnavailable("usage.unavailable") from exc

    # Plumbing

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        engine = connect(self.settings)
        if not self._tables_ready:  # created on first use: a database down at start-up is fine
            self._create_tables(engine)
        with engine.begin() as conn:
            yield conn

    def _create_tables(self, engine: Engine) -> None:
        with self._tables_lock:  # the log's own threads wait here, never the event loop
            if self._tables_ready:
                return
            create_tables(engine, questions, votes)
            self._tables_ready = True

    def _write(self, statement: Callable[[Connection], T], what: str) -> T | None:
        try:
            with self._begin() as conn:
                result = statement(conn)
        except SQLAlchemyError as exc:
            logger.error(
                "Usage log: %s not recorded (database error: %s)", what, driver_message(exc)
            )
            return None
        except Exception:
            logger.exception("Usage log: %s not recorded", what)
            return None
        self.purge_if_due()
        return result

    def _submit(self, call: Callable[[], T]) -> Future[T | None]:
        with self._lock:
            if len(self._queued) >= MAX_QUEUED:  # the database hangs: keep memory bounded
                logger.warning("Usage log: %d writes waiting; this one is dropped", MAX_QUEUED)
                return _nothing()
            try:
                future = self._writer.submit(call)
            except RuntimeError:  # the process is shutting down
                return _nothing()
            self._queued.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future) -> None:
        with self._lock:
            self._queued.discard(future)
