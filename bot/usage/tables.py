"""The usage log's tables: one row per question asked, one per 👍/👎 vote."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    SmallInteger,
    Table,
    Text,
)

from bot.database import Bounded, UtcDateTime, metadata

questions = Table(
    "usage_questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("asked_at", UtcDateTime, nullable=False, index=True),
    Column("channel", Bounded(16), nullable=False),
    Column("user_hash", Bounded(64)),  # HMAC of the user id or client IP, never the id itself
    Column("question", Text, nullable=False),
    Column("abstained", Boolean),  # None when no answer was given (see `error`)
    Column("error", Bounded(64)),  # the error's kind, e.g. "IndexMissing"
    Column("top_doc_id", Bounded(200)),
    Column("top_page", Integer),
    Column("top_section", Bounded(500)),
    Column("top_chunk_id", Bounded(200)),
    Column("latency_ms", Float),
    # Who wrote the answer ("quotes" or "llm") and how many of a model's sentences the grounding
    # guard dropped; NULL on rows older than these columns.
    Column("written_by", Bounded(16)),
    Column("dropped_sentences", Integer),
)

votes = Table(
    "usage_votes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("voted_at", UtcDateTime, nullable=False, index=True),
    Column("channel", Bounded(16), nullable=False),
    Column("user_hash", Bounded(64)),
    # The judged question; a vote may outlive it by seconds at the retention boundary.
    Column(
        "question_id",
        Integer,
        ForeignKey("usage_questions.id", ondelete="SET NULL"),
        index=True,
    ),
    Column("vote", SmallInteger, nullable=False),  # +1 or -1
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("sources", JSON, nullable=False),  # [{doc_id, title, page, section, chunk_id}]
)
