"""Telegram HTML for answers, passages and documents, and splitting it into sendable messages.

Everything that comes from a document or a user is escaped here; templates from
prompts/messages.toml are trusted HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit

from prompts import message
from retrieval.contract import Answer, DocumentRecord, Source

MAX_MESSAGE_LENGTH = MessageLimit.MAX_TEXT_LENGTH  # 4096, counted like Telegram: UTF-16 units
PASSAGE_CHARS = 500
SOURCE_ICON = "📄"

# callback_data prefixes; the data itself stays far below Telegram's 64 bytes (an id, never text)
ASK, SOURCES, VOTE = "ask", "src", "vote"

_ATOM = re.compile(r"<[^>]*>|&#?\w+;|\s+|[^\s<&]+|[<&]")
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")


def tg_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _citation_lines(sources: Sequence[Source]) -> list[str]:
    """'[1][3] 📄 Title, p. 4': sources sharing a citation are listed once."""
    grouped: dict[str, list[int]] = {}
    for source in sources:
        grouped.setdefault(source.citation(), []).append(source.n)
    return [
        f"<b>{''.join(f'[{n}]' for n in numbers)}</b> {SOURCE_ICON} {escape(citation)}"
        for citation, numbers in grouped.items()
    ]


def render_answer(answer: Answer) -> str:
    """The answer text followed by its citations."""
    sources = answer.cited_sources()
    text = escape(answer.answer)
    if not sources:
        return text
    heading = message(f"telegram.{'nearest' if answer.abstained else 'sources'}_heading")
    return "\n\n".join([text, f"<b>{heading}</b>\n" + "\n".join(_citation_lines(sources))])


def render_passages(answer: Answer) -> str:
    """Each cited passage, trimmed, under its citation ("Ver fuentes")."""
    blocks = [f"<b>{message('telegram.passages_heading')}</b>"]
    for source in answer.cited_sources():
        line = f"<b>[{source.n}]</b> {SOURCE_ICON} {escape(source.citation())}"
        blocks.append(f"{line}\n<blockquote>{escape(trim_passage(source.text))}</blockquote>")
    return "\n\n".join(blocks)


def trim_passage(text: str, limit: int = PASSAGE_CHARS) -> str:
    """The passage on one line, cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def render_documents(records: Iterable[DocumentRecord]) -> str:
    records = list(records)
    if not records:
        return message("telegram.no_documents")
    lines = [f"<b>{message('telegram.documents_heading', count=len(records))}</b>"]
    for record in records:
        year = record.year or message("telegram.undated")
        lines.append(message("telegram.document_line", title=escape(record.title), year=year))
    return "\n".join(lines)


def answer_keyboard(answer_id: str) -> InlineKeyboardMarkup:
    """Buttons "Ver fuentes" and 👍/👎 under an answer: buttons carry its id, never its text."""
    return InlineKeyboardMarkup(
        [
            [_button("telegram.button_sources", f"{SOURCES}:{answer_id}")],
            [
                _button("telegram.button_helpful", f"{VOTE}:{answer_id}:1"),
                _button("telegram.button_unhelpful", f"{VOTE}:{answer_id}:0"),
            ],
        ]
    )


def _button(key: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(message(key), callback_data=data)


def examples_keyboard(examples: Sequence[str]) -> InlineKeyboardMarkup:
    """One button per example question; tapping it asks the question."""
    rows = [[InlineKeyboardButton(q, callback_data=f"{ASK}:{i}")] for i, q in enumerate(examples)]
    return InlineKeyboardMarkup(rows)


def split_html(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Messages of at most `limit` units, cut between paragraphs when possible, tags kept whole.

    A paragraph too long for one message is cut between words; tags open at the cut are closed at
    the end of one message and reopened at the start of the next.
    """
    messages: list[str] = []
    current = ""
    for paragraph in _paragraphs(text):
        joined = f"{current}\n\n{paragraph}" if current else paragraph
        if tg_len(joined) <= limit:
            current = joined
            continue
        if current:
            messages.append(current)
        pieces = [paragraph] if tg_len(paragraph) <= limit else _split_paragraph(paragraph, limit)
        messages.extend(pieces[:-1])
        current = pieces[-1]
    if current:
        messages.append(current)
    return messages


def _paragraphs(text: str) -> list[str]:
    """Split at blank lines that are outside every tag."""
    out, start, depth = [], 0, 0
    for match in re.finditer(r"<(/?)[a-zA-Z][^>]*>|\n\n+", text):
        if match.group(0).startswith("<"):
            depth += -1 if match.group(1) else 1
        elif depth == 0:
            out.append(text[start : match.start()])
            start = match.end()
    out.append(text[start:])
    return [p for p in out if p.strip()]


def _split_paragraph(paragraph: str, limit: int) -> list[str]:
    pieces: list[str] = []
    stack: list[tuple[str, str]] = []  # (name, opening tag) of the tags open at this point
    current, size, has_text = "", 0, False

    def flush() -> None:
        nonlocal current, size, has_text
        pieces.append(current.rstrip() + _closers(stack))
        current = "".join(tag for _, tag in stack)
        size, has_text = tg_len(current), False

    for atom in _ATOM.findall(paragraph):
        tag = _TAG.fullmatch(atom)
        after = _after(stack, tag, atom)
        if has_text and size + tg_len(atom) + tg_len(_closers(after)) > limit:
            flush()
            if atom.isspace():
                continue
        if not tag and not atom.startswith("&"):
            while size + tg_len(atom) + tg_len(_closers(stack)) > limit:  # a word too long
                head = _head(atom, max(limit - size - tg_len(_closers(stack)), 1))
                current, atom = current + head, atom[len(head) :]
                flush()
            has_text = has_text or not atom.isspace()
        current += atom
        size += tg_len(atom)
        stack = after
    if has_text:
        pieces.append(current.rstrip() + _closers(stack))
    return pieces


def _after(stack: list[tuple[str, str]], tag: re.Match | None, atom: str) -> list[tuple[str, str]]:
    if tag is None:
        return stack
    if tag.group(1):
        return stack[:-1]
    return [*stack, (tag.group(2), atom)]


def _closers(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _head(word: str, units: int) -> str:
    """The longest start of `word` that fits in `units` UTF-16 units (at least one character)."""
    size = 0
    for i, char in enumerate(word):
        size += tg_len(char)
        if size > units:
            return word[: max(i, 1)]
    return word
