"""Answer composition. The extractive answerer quotes the best sentences or table rows, each cited.

The `Answerer` protocol is the seam for an LLM-backed answerer: it receives the question and the
numbered sources and returns the answer text with [n] citations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from retrieval.contract import Source
from retrieval.glossary import Glossary
from retrieval.query import QuestionType, classify, years_in
from retrieval.text import content_terms, split_sentences

MAX_UNIT_CHARS = 300
SOURCES_READ = 4
RANK_PRIOR = 0.15
_NUMBER = re.compile(r"\d")
_ENTITY = re.compile(r"\b[A-ZÁÉÍÓÚÑ]{3,}\b|Responsable|Dirección|Ministerio|Gerencia|Cámara")
_SHORT_CELL = 120
_VALUE = re.compile(r"-|\d{1,3}(?:[ .,]\d{3})*(?:[.,]\d+)?\s?%?")
_VALUES_AT_END = re.compile(r"(?:\s(?:-|\d[\d.,]*%?)){2,}$")


class Answerer(Protocol):
    def compose(self, question: str, sources: list[Source]) -> str: ...


@dataclass(frozen=True)
class Candidate:
    text: str
    n: int
    score: float


class ExtractiveAnswerer:
    """Quotes the sentences and table rows that best answer the question, citing each."""

    def __init__(
        self,
        term_weights: Mapping[str, float],
        glossary: Glossary,
        columns: Mapping[str, str] | None = None,
        max_chars: int = 600,
    ) -> None:
        self._weights = term_weights
        self._columns = columns or {}  # chunk_id -> years heading its table rows
        self._default_weight = max(term_weights.values(), default=1.0)
        self._glossary = glossary
        self._max_chars = max_chars

    def weight(self, term: str) -> float:
        return self._weights.get(term, self._default_weight)

    def compose(self, question: str, sources: list[Source]) -> str:
        kind = classify(question)
        parts = self.definitions(question, sources) if kind is QuestionType.DEFINITION else []
        used = sum(len(p) + 1 for p in parts)
        for candidate in self.candidates(question, sources, kind):
            piece = f"{candidate.text} [{candidate.n}]"
            if any(candidate.text in p or p.startswith(candidate.text) for p in parts):
                continue
            if parts and used + len(piece) + 1 > self._max_chars:
                continue
            parts.append(piece)
            used += len(piece) + 1
            if used > self._max_chars * 0.8:
                break
        return " ".join(parts)

    def definitions(self, question: str, sources: list[Source]) -> list[str]:
        """'ACR (document): expansion [n]' for each acronym the question names, per document."""
        by_chunk = {s.chunk_id: s.n for s in sources}
        lines = []
        for acronym in self._glossary.subjects(question):
            entries = [e for e in self._glossary.lookup(acronym) if e.chunk_id in by_chunk]
            for entry in entries:
                where = f" ({entry.title})" if len(entries) > 1 else ""
                lines.append(
                    f"{entry.acronym}{where}: {entry.expansion}. [{by_chunk[entry.chunk_id]}]"
                )
        return lines

    def candidates(
        self, question: str, sources: list[Source], kind: QuestionType | None = None
    ) -> list[Candidate]:
        """Every unit of the first sources, scored by the question terms it holds and its type."""
        kind = kind or classify(question)
        query = set(content_terms(question))
        total = sum(self.weight(t) for t in query) or 1.0
        asked_years = set(years_in(question))
        found = []
        for rank, source in enumerate(sources[:SOURCES_READ]):
            units = split_sentences(source.text)
            years = self._columns.get(source.chunk_id)
            for i, unit in enumerate(units):
                matched = query & set(content_terms(unit))
                if not matched:
                    continue
                text = _extend(units, i, kind)
                score = sum(self.weight(t) for t in matched) / total + RANK_PRIOR / (rank + 1)
                score += _type_bonus(text, kind, asked_years)
                if years:
                    text = label_values(text, years.split("\t"), asked_years)
                found.append(Candidate(_trim(text, query), source.n, score))
        return sorted(found, key=lambda c: c.score, reverse=True)


def _extend(units: list[str], i: int, kind: QuestionType) -> str:
    """A unit plus the short cells that follow it in a flattened table row.

    For amounts: up to the first cell holding values ('N° de productores capacitados. 20 60 80').
    For 'who': the involved entities, commitment and direct responsible that follow an action.
    """
    text = units[i]
    steps = {QuestionType.TARGET: 2, QuestionType.RESPONSIBLE: 4}.get(kind, 1)
    for following in units[i + 1 : i + 1 + steps]:
        if len(following) >= _SHORT_CELL or len(text) + len(following) > MAX_UNIT_CHARS:
            break
        if kind is QuestionType.TARGET and _VALUES_AT_END.search(text):
            break
        if kind not in (QuestionType.TARGET, QuestionType.RESPONSIBLE) and len(text) >= 60:
            break
        text = f"{text} {following}"
    return text


def label_values(text: str, years: list[str], asked: set[str]) -> str:
    """'N° de proyectos adjudicados. 2 5 6' -> '… (2018: 2; 2021: 5; 2025: 6)'.

    Table cells are tab-separated when the extraction kept them; otherwise the trailing values of
    the row are matched one per year. Long series keep the baseline, the asked years and the last.
    """
    if "\t" in text:
        cells = text.split("\t")
        label, values = " ".join(cells[: len(cells) - len(years)]), cells[len(cells) - len(years) :]
    else:
        tokens = text.split()
        label, values = " ".join(tokens[: -len(years)]), tokens[-len(years) :]
    if len(values) != len(years) or not all(_VALUE.fullmatch(v.strip()) for v in values):
        return text
    pairs = list(zip(years, (v.strip() for v in values), strict=True))
    if len(pairs) > 4:
        pairs = [p for i, p in enumerate(pairs) if i in (0, len(pairs) - 1) or p[0] in asked]
    return f"{label.strip()} ({'; '.join(f'{y}: {v}' for y, v in pairs)})"


def _type_bonus(text: str, kind: QuestionType, asked_years: set[str]) -> float:
    if kind is QuestionType.TARGET:
        numbers = [n for n in re.findall(r"\d[\d.,]*", text) if n not in asked_years]
        return 0.2 if numbers else -0.1
    if kind is QuestionType.RESPONSIBLE:
        return 0.15 if _ENTITY.search(text) else 0.0
    return 0.0


def _trim(text: str, query: set[str]) -> str:
    """A long unit shortened to the window around its first matching term."""
    if len(text) <= MAX_UNIT_CHARS:
        return text
    words = text.split()
    hits = [i for i, w in enumerate(words) if set(content_terms(w)) & query]
    start = max(0, (hits[0] if hits else 0) - 8)
    out, size = [], 0
    for word in words[start:]:
        if size + len(word) + 1 > MAX_UNIT_CHARS:
            break
        out.append(word)
        size += len(word) + 1
    prefix = "… " if start else ""
    return f"{prefix}{' '.join(out)} …"
