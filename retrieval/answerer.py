"""Answer composition. The extractive answerer quotes the best sentences or table rows, each cited.

The `Answerer` protocol is the seam for an LLM-backed answerer: it receives the question and the
numbered sources and returns the answer text with [n] citations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from retrieval.contract import Source
from retrieval.text import content_terms, split_sentences

MAX_UNIT_CHARS = 300
SOURCES_READ = 4


class Answerer(Protocol):
    def compose(self, question: str, sources: list[Source]) -> str: ...


@dataclass(frozen=True)
class Candidate:
    text: str
    n: int
    score: float
    position: tuple[int, int]


class ExtractiveAnswerer:
    """Picks the sentences and table rows that best cover the question's terms, citing each."""

    def __init__(self, term_weights: Mapping[str, float], max_chars: int = 600) -> None:
        self._weights = term_weights
        self._default_weight = max(term_weights.values(), default=1.0)
        self._max_chars = max_chars

    def weight(self, term: str) -> float:
        return self._weights.get(term, self._default_weight)

    def candidates(self, question: str, sources: list[Source]) -> list[Candidate]:
        """Every unit of the first sources, scored by the weight of the question terms it holds."""
        query = set(content_terms(question))
        total = sum(self.weight(t) for t in query) or 1.0
        found = []
        for rank, source in enumerate(sources[:SOURCES_READ]):
            units = split_sentences(source.text)
            for i, unit in enumerate(units):
                matched = query & set(content_terms(unit))
                if not matched:
                    continue
                coverage = sum(self.weight(t) for t in matched) / total
                score = coverage + 0.15 / (rank + 1)
                text = unit
                if len(unit) < 60 and i + 1 < len(units):  # a table cell: add the next cell
                    text = f"{unit} {units[i + 1]}"
                found.append(Candidate(_trim(text, query), source.n, score, (rank, i)))
        return sorted(found, key=lambda c: c.score, reverse=True)

    def compose(self, question: str, sources: list[Source]) -> str:
        parts: list[str] = []
        used = 0
        for candidate in self.candidates(question, sources):
            piece = f"{candidate.text} [{candidate.n}]"
            if any(candidate.text in p for p in parts):
                continue
            if parts and used + len(piece) + 1 > self._max_chars:
                break
            parts.append(piece)
            used += len(piece) + 1
        return " ".join(parts)


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

