"""The usage report: what people ask that the documents do not answer, 👎 answers, daily use."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import Connection, select

from bot.database import LIMA
from bot.usage.grouping import group_similar
from bot.usage.tables import questions, votes
from retrieval.errors import ExportaError
from retrieval.text import words

TOP_GROUPS = 20
TOP_DOWNVOTED = 20
VARIANTS_SHOWN = 3


class UsageUnavailable(ExportaError):
    """The usage database cannot be read."""


@dataclass(frozen=True)
class UnansweredGroup:
    """Similar questions the documents did not answer (the service abstained)."""

    question: str  # the most asked wording
    count: int
    channels: list[str]
    last_asked: datetime  # UTC
    variants: list[str]  # a few other wordings


@dataclass(frozen=True)
class DownvotedAnswer:
    """An answer someone marked 👎, with the sources it was given with."""

    question_id: int | None
    question: str
    answer: str
    sources: list[dict]
    downvotes: int
    upvotes: int
    channels: list[str]
    last_voted: datetime  # UTC


@dataclass(frozen=True)
class DailyUse:
    day: date  # in Lima
    channels: dict[str, int]  # questions per channel

    @property
    def total(self) -> int:
        return sum(self.channels.values())


@dataclass(frozen=True)
class UsageReport:
    since: date | None
    generated_at: datetime  # UTC
    questions: int
    abstained: int
    errors: int
    upvotes: int
    downvotes: int
    unanswered: list[UnansweredGroup] = field(default_factory=list)
    downvoted: list[DownvotedAnswer] = field(default_factory=list)
    daily: list[DailyUse] = field(default_factory=list)  # oldest first

    @property
    def channels(self) -> list[str]:
        return sorted({channel for day in self.daily for channel in day.channels})

    def to_dict(self) -> dict:
        """JSON-ready: dates and times as ISO 8601 (times in UTC)."""
        data = asdict(self)
        data["since"] = self.since.isoformat() if self.since else None
        data["generated_at"] = _iso(self.generated_at)
        for group in data["unanswered"]:
            group["last_asked"] = _iso(group["last_asked"])
        for answer in data["downvoted"]:
            answer["last_voted"] = _iso(answer["last_voted"])
        data["daily"] = [
            {"day": day.day.isoformat(), "channels": day.channels, "total": day.total}
            for day in self.daily
        ]
        data["channels"] = self.channels
        return data

    def to_text(self) -> str:
        """The report in Spanish, for a terminal."""
        from bot.usage.render import render_report

        return render_report(self)


def start_of(day: date) -> datetime:
    """The UTC instant a Lima day starts."""
    return datetime.combine(day, time(), LIMA).astimezone(UTC)


def build_report(conn: Connection, since: date | None, now: datetime | None = None) -> UsageReport:
    asked_q = select(
        questions.c.asked_at,
        questions.c.channel,
        questions.c.question,
        questions.c.abstained,
        questions.c.error,
    ).order_by(questions.c.asked_at, questions.c.id)
    voted_q = select(votes).order_by(votes.c.voted_at, votes.c.id)
    if since is not None:
        asked_q = asked_q.where(questions.c.asked_at >= start_of(since))
        voted_q = voted_q.where(votes.c.voted_at >= start_of(since))
    asked = conn.execute(asked_q).all()
    voted = conn.execute(voted_q).all()
    return UsageReport(
        since=since,
        generated_at=(now or datetime.now(UTC)).astimezone(UTC),
        questions=len(asked),
        abstained=sum(1 for row in asked if row.abstained),
        errors=sum(1 for row in asked if row.error),
        upvotes=sum(1 for row in voted if row.vote > 0),
        downvotes=sum(1 for row in voted if row.vote < 0),
        unanswered=_unanswered([row for row in asked if row.abstained]),
        downvoted=_downvoted(voted),
        daily=_daily(asked),
    )


def _unanswered(rows: list) -> list[UnansweredGroup]:
    groups = []
    for positions in group_similar([row.question for row in rows])[:TOP_GROUPS]:
        members = [rows[p] for p in positions]
        wordings: dict[str, list] = defaultdict(list)  # the same words, however punctuated
        for row in members:
            wordings[" ".join(words(row.question))].append(row)
        # Most asked wording first; among equals, the most recently asked.
        ranked = sorted(wordings.values(), key=lambda rs: (len(rs), rs[-1].asked_at), reverse=True)
        groups.append(
            UnansweredGroup(
                question=ranked[0][-1].question.strip(),
                count=len(members),
                channels=sorted({row.channel for row in members}),
                last_asked=max(row.asked_at for row in members),
                variants=[rs[-1].question.strip() for rs in ranked[1 : 1 + VARIANTS_SHOWN]],
            )
        )
    return groups


def _downvoted(rows: list) -> list[DownvotedAnswer]:
    judged: dict[object, list] = defaultdict(list)
    for row in rows:  # a vote without its question id is matched by what was asked and said
        judged[row.question_id or (row.question, row.answer)].append(row)
    answers = []
    for group in judged.values():
        tally = Counter(row.vote for row in group)
        if not tally[-1]:
            continue
        last = group[-1]
        answers.append(
            DownvotedAnswer(
                question_id=last.question_id,
                question=last.question,
                answer=last.answer,
                sources=last.sources,
                downvotes=tally[-1],
                upvotes=tally[1],
                channels=sorted({row.channel for row in group}),
                last_voted=last.voted_at,
            )
        )
    answers.sort(key=lambda a: (a.downvotes, a.last_voted), reverse=True)
    return answers[:TOP_DOWNVOTED]


def _daily(rows: list) -> list[DailyUse]:
    per_day: dict[date, Counter] = defaultdict(Counter)
    for row in rows:
        per_day[_lima_day(row.asked_at)][row.channel] += 1
    return [DailyUse(day, dict(sorted(per_day[day].items()))) for day in sorted(per_day)]


def _lima_day(moment: datetime) -> date:
    return moment.astimezone(LIMA).date()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
