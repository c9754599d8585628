"""Cleaning for PDF-extracted text: hyphenation, spacing, page numbers, running headers."""

import re
import unicodedata
from collections import Counter

_HYPHENATED = re.compile(r"(\w)-[ \t]*\n(?:[ \t]*\n)?[ \t]*([a-záéíóúüñ])")
_SPACES = re.compile(r"[ \t\u00a0\u2002\u2003\u2009]+")
_TABLE_GAP = re.compile(r"\S(\t| {3,})\S")
_CELL_GAP = re.compile(r"[ \u00a0]*(?:\t| {3,})[ \t\u00a0]*")
_PAGE_NUMBER = re.compile(r"^(?:p[aá]g(?:ina)?\.?\s*)?(\d{1,3})(?:\s+(\d{1,3}))?$", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")

TABLE_ROW_MARK = "\x1f"  # internal: marks a line kept as its own row


def join_hyphenated(text: str) -> str:
    """'Internaciona-\\nlización' -> 'Internacionalización' (only before a lower-case letter)."""
    return _HYPHENATED.sub(r"\1\2", text)


def is_page_number(line: str) -> bool:
    """A line that is only a page number, or a two-page spread like '42 43'."""
    match = _PAGE_NUMBER.match(line.strip())
    if not match:
        return False
    first, second = match.group(1), match.group(2)
    return second is None or int(second) == int(first) + 1


def running_headers(pages: list[str], min_repeats: int = 3) -> set[str]:
    """Lines repeated at the edges of many pages (or alone in many paragraphs of a text file)."""
    candidates: Counter[str] = Counter()
    for page in pages:
        if len(pages) > 1:
            lines = [ln for ln in (_SPACES.sub(" ", x).strip() for x in page.splitlines()) if ln]
            candidates.update(set(lines[:2] + lines[-2:]))
        else:
            for block in _BLANK_LINES.split(page):
                line = _SPACES.sub(" ", block).strip()
                if line and "\n" not in line:
                    candidates[line] += 1
    return {
        line
        for line, n in candidates.items()
        if n >= min_repeats
        and 3 <= len(line.split()) <= 25
        and not line.endswith((".", ":", ";", ","))
        and any(ch.islower() for ch in line)
        and not is_page_number(line)
    }


def clean_page(text: str, headers: set[str] = frozenset()) -> list[str]:
    """NFC-normalised paragraphs of one page; lines of table rows stay separate."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = join_hyphenated(text)
    paragraphs = []
    for block in _BLANK_LINES.split(text):
        lines = []
        for raw in block.split("\n"):
            line = _SPACES.sub(" ", raw).strip()
            if not line or is_page_number(line) or _is_header(line, headers):
                continue
            if _TABLE_GAP.search(raw):  # a table row: one tab between cells, nothing else
                cells = [_SPACES.sub(" ", c).strip() for c in _CELL_GAP.split(raw.strip())]
                line = TABLE_ROW_MARK + "\t".join(c for c in cells if c)
            lines.append(line)
        if lines:
            paragraphs.append(_join_lines(lines))
    return paragraphs


def _is_header(line: str, headers: set[str]) -> bool:
    """The header itself, or the header followed by the running section title."""
    if line in headers:
        return True
    return any(
        line.startswith(h + " ") and len(line.split()) - len(h.split()) <= 15 for h in headers
    )


def _join_lines(lines: list[str]) -> str:
    """Wrapped lines of a paragraph become one line; table rows keep their own line."""
    out = lines[0].lstrip(TABLE_ROW_MARK)
    for line in lines[1:]:
        if line.startswith(TABLE_ROW_MARK):
            out += "\n" + line[1:]
        else:
            out += " " + line
    return out
