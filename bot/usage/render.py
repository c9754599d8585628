"""The usage report as Spanish text for a terminal (wording in prompts/messages.toml)."""

from __future__ import annotations

from bot.database import lima
from bot.usage.report import UsageReport
from prompts import message
from retrieval.contract import Source, cited_sources

ANSWER_CHARS = 200
SOURCES_SHOWN = 3


def render_report(report: UsageReport) -> str:
    lines = [
        message("usage.title_since", since=report.since.isoformat())
        if report.since
        else message("usage.title_all"),
        message(
            "usage.totals",
            questions=report.questions,
            abstained=report.abstained,
            percent=round(100 * report.abstained / report.questions) if report.questions else 0,
            errors=report.errors,
            up=report.upvotes,
            down=report.downvotes,
        ),
        "",
        message("usage.unanswered_heading"),
    ]
    for n, group in enumerate(report.unanswered, start=1):
        lines.append(f"{n:>3}. «{group.question}»")
        detail = message(
            "usage.unanswered_detail",
            times=message("usage.once")
            if group.count == 1
            else message("usage.times", count=group.count),
            channels=", ".join(group.channels),
            last=lima(group.last_asked),
        )
        lines.append(f"     {detail}")
        if group.variants:
            variants = " · ".join(f"«{v}»" for v in group.variants)
            lines.append(f"     {message('usage.variants', variants=variants)}")
    if not report.unanswered:
        lines.append(f"     {message('usage.none')}")

    lines += ["", message("usage.downvoted_heading")]
    for n, answer in enumerate(report.downvoted, start=1):
        detail = message(
            "usage.downvoted_detail",
            down=answer.downvotes,
            up=answer.upvotes,
            channels=", ".join(answer.channels),
            last=lima(answer.last_voted),
        )
        lines.append(f"{n:>3}. «{answer.question}» — {detail}")
        lines.append(f"     {message('usage.answer', answer=_shortened(answer.answer))}")
        shown = cited_sources(answer.answer, [_logged(s) for s in answer.sources])
        sources = " · ".join(s.citation() for s in shown[:SOURCES_SHOWN])
        lines.append(f"     {message('usage.sources', sources=sources or message('usage.none'))}")
    if not report.downvoted:
        lines.append(f"     {message('usage.none')}")

    lines += ["", message("usage.daily_heading")]
    lines += _daily_table(report) or [f"     {message('usage.none')}"]
    return "\n".join(lines)


def _daily_table(report: UsageReport) -> list[str]:
    if not report.daily:
        return []
    header = [message("usage.day_column"), *report.channels, message("usage.total_column")]
    rows = [
        [day.day.isoformat(), *(str(day.channels.get(c, 0)) for c in report.channels)]
        + [str(day.total)]
        for day in report.daily
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  " + "  ".join([first, *rest])

    return [line(header), *(line(row) for row in rows)]


def _logged(source: dict) -> Source:
    """A source as the usage log keeps it (no passage text), to cite as the answer showed it."""
    return Source(
        n=source.get("n") or 0,
        doc_id=source.get("doc_id", ""),
        title=source.get("title") or source.get("doc_id", ""),
        page=source.get("page"),
        section=source.get("section"),
        chunk_id=source.get("chunk_id", ""),
    )


def _shortened(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= ANSWER_CHARS else flat[: ANSWER_CHARS - 1].rstrip() + "…"
