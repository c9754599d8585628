"""Answer composition. The extractive answerer quotes the best sentences or table rows, each cited.

The `Answerer` protocol is the seam for an LLM-backed answerer: it receives the question and the
numbered sources and returns the answer text with [n] citations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import fsum  # order-independent: set iteration order must not change answers
from typing import Protocol

from retrieval.contract import Source
from retrieval.facts import fact_quotes
from retrieval.glossary import Glossary
from retrieval.query import QuestionType, classify, framing_terms, years_in
from retrieval.quotes import LIST_SPARE_CHARS, MAX_QUOTE_CHARS, extend_row, label_values, trim_quote
from retrieval.text import content_terms, fold_accents, split_sentences

SOURCES_READ = 4
RANK_PRIOR = 0.15
_NUMBER = re.compile(r"\d")
_ENTITY = re.compile(r"\b[A-ZÁÉÍÓÚÑ]{3,}\b|Responsable|Dirección|Ministerio|Gerencia|Cámara")
FIELD_BONUS = 0.2
MIN_FAMILY_STEM = 4
FACT_BONUS = 0.25  # a quote composed from a card's or table's structure
# A quote must hold at least this share of the question's IDF mass (dev set: off-corpus questions
# peak at 0.24-0.26, answerable ones start at 0.32).
MIN_QUOTE_COVERAGE = 0.3
CARD_MIN_COVERAGE = 0.5
# A figure: not a footnote mark glued to a word, not a code's number ("AEI 3", "OP 2"), not the
# numbering of a list item ("1. Hub de conocimiento").
_FIGURE = re.compile(
    r"(?<![^\W\d])(?<![A-Z]{2} )\d+(?:[.,]\d+)*(?!\.\s+[A-ZÁÉÍÓÚÑ])(?![\d.,]*[A-Za-z])"
)
_SHARE = re.compile(r"porcentaje|%|proporcion|participacion|tasa")
_FIGURE_CAPTION = re.compile(r"^\W*(Ilustración|Gráfico|Figura|Tabla|Cuadro|Fuente|Elaboración)\b")
_DEFINING = re.compile(r"\b(consiste|se define|se refiere|significa|comprende|es (un|una|el|la))\b")
_COLUMN_HEADER = re.compile(r"^[^a-záéíóúñ]{12,}$")  # "ACCIÓN ESPECÍFICA INDICADOR META"
_TOC_LEADER = re.compile(r"\.{5,}|…{2,}")
_FOOTNOTE = re.compile(r"^\[\d{1,2}\]\s")  # "[1] Relacionados al turismo receptivo…" under a table
# The row of a service or indicator card that answers each kind of question.
_FIELD_FOR_TYPE = {
    QuestionType.RESPONSIBLE: re.compile(r"^(Proveedor del servicio|Responsable)"),
    QuestionType.DEFINITION: re.compile(r"^Descripción del servicio"),
    QuestionType.PROGRAM: re.compile(r"^Descripción del servicio"),
    QuestionType.GENERAL: re.compile(r"^Descripción del servicio"),
}


class Answerer(Protocol):
    def compose(self, question: str, sources: list[Source]) -> str: ...


@dataclass(frozen=True)
class Candidate:
    text: str
    n: int
    terms: frozenset[str]  # question terms written in this unit
    proxy: frozenset[str]  # terms it answers for its card or table (a "Proveedor" row, values)
    base: float  # rank prior and question-type bonuses

    def gain(self, weight, total: float, quoted: set[str], answered: set[str]) -> float:
        """Worth of quoting this unit, given the terms already quoted and already answered."""
        own = fsum(weight(t) for t in self.terms - quoted)
        fresh_proxy = self.proxy - self.terms - answered
        by_proxy = fsum(weight(t) for t in fresh_proxy)
        # A card's row earns its bonus while what it stands for is still unanswered.
        bonus = FIELD_BONUS if fresh_proxy else 0.0
        return (own + by_proxy) / total + self.base + bonus


class ExtractiveAnswerer:
    """Quotes the sentences and table rows that best answer the question, citing each."""

    def __init__(
        self,
        term_weight: Callable[[str], float],
        glossary: Glossary,
        columns: Mapping[str, str] | None = None,
        max_chars: int = 600,
    ) -> None:
        self.weight = term_weight
        self._columns = columns or {}  # chunk_id -> years heading its table rows
        self._glossary = glossary
        self._max_chars = max_chars

    def compose(self, question: str, sources: list[Source]) -> str:
        """Greedy cover of the question: each next quote must answer terms not yet answered.

        A question in two parts ("cuántos meses … y cuántas entidades …") gets one quote per part,
        possibly from two documents.
        """
        kind = classify(question)
        parts = self.definitions(question, sources) if kind is QuestionType.DEFINITION else []
        # An acronym defined by the glossary needs little more than a line or two of context.
        max_parts = len(parts) + 2 if parts else 8
        used = sum(len(p) + 1 for p in parts)
        total = self.total_weight(question)
        quoted: set[str] = set()
        answered: set[str] = set()
        pool = self.candidates(question, sources, kind)
        best_quote = max((fsum(self.weight(t) for t in c.terms) / total for c in pool), default=0.0)
        if not parts and best_quote < MIN_QUOTE_COVERAGE:
            return ""  # no sentence says enough of what was asked: the service abstains
        framing = framing_terms()  # "deben", "papel": no new answer by themselves
        while pool and len(parts) < max_parts:
            if len(parts) >= 2:  # past two quotes, only what answers something new
                pool = [
                    c
                    for c in pool
                    if (c.terms - quoted - framing) or (c.proxy - answered - framing)
                ]
                if not pool:
                    break
            best = max(pool, key=lambda c: c.gain(self.weight, total, quoted, answered))
            pool.remove(best)
            piece = f"{best.text} [{best.n}]"
            if _repeats(best.text, parts):
                continue
            if parts and used + len(piece) > self._max_chars:
                continue
            parts.append(piece)
            used += len(piece) + 1
            quoted |= best.terms
            answered |= best.terms | best.proxy
        return " ".join(parts)

    def total_weight(self, question: str) -> float:
        return fsum(self.weight(t) for t in set(content_terms(question))) or 1.0

    def definitions(self, question: str, sources: list[Source]) -> list[str]:
        """'ACR: expansion [1][2]' for each acronym the question names; when documents expand it
        differently, one line per document, each naming its document."""
        by_chunk = {s.chunk_id: s.n for s in sources}
        lines = []
        for acronym in self._glossary.subjects(question):
            entries = [e for e in self._glossary.lookup(acronym) if e.chunk_id in by_chunk]
            expansions: dict[str, list] = {}
            for entry in entries:
                expansions.setdefault(fold_accents(entry.expansion), []).append(entry)
            for same in expansions.values():
                cites = "".join(f"[{by_chunk[e.chunk_id]}]" for e in same)
                where = f" ({same[0].title})" if len(expansions) > 1 else ""
                lines.append(f"{same[0].acronym}{where}: {same[0].expansion}. {cites}")
        return lines

    def candidates(
        self, question: str, sources: list[Source], kind: QuestionType | None = None
    ) -> list[Candidate]:
        """Every unit of the first sources, scored by the question terms it holds and its type."""
        kind = kind or classify(question)
        query = set(content_terms(question))
        total = self.total_weight(question)
        asked_years = set(years_in(question))
        wants_share = bool(_SHARE.search(fold_accents(question)))

        def about(text: str) -> float:
            return fsum(self.weight(t) for t in query & set(content_terms(text)))

        found = []
        for rank, source in enumerate(sources[:SOURCES_READ]):
            units = split_sentences(source.text)
            years = self._columns.get(source.chunk_id)
            # What the chunk's section (or card name) says counts for each of its rows, at half.
            context = query & set(content_terms(f"{source.title} {source.section or ''}"))
            card_terms = query & set(content_terms(source.text))
            # A card answers for its fields only when it is about the question.
            is_card = source.text.startswith(("FICHA", "Ficha")) and (
                fsum(self.weight(t) for t in card_terms | context) / total >= CARD_MIN_COVERAGE
            )
            prior = RANK_PRIOR / (rank + 1)
            for quote in fact_quotes(kind, source, asked_years, about, wants_share):
                # A quote from the card's structure stands for the whole card, like its field rows.
                matched = frozenset(query & set(content_terms(quote)))
                bonus = FACT_BONUS + _type_bonus(quote, kind, asked_years, wants_share)
                proxy = frozenset(context | card_terms)
                found.append(Candidate(quote, source.n, matched, proxy, prior + bonus))
            for i, unit in enumerate(units):
                if (
                    _TOC_LEADER.search(unit)
                    or _COLUMN_HEADER.match(unit)
                    or (_FIGURE_CAPTION.match(unit) and len(unit) < 160)
                    or _FOOTNOTE.match(unit)
                    or (len(unit.split()) < 4 and not _NUMBER.search(unit))
                ):
                    continue  # contents lines, captions, footnotes and stray labels answer nothing
                unit_terms = set(content_terms(unit))
                # A relative of a question word counts for it ("crecieron" / "crecimiento").
                matched = (query & unit_terms) | _relatives(query - unit_terms, unit_terms)
                field = _FIELD_FOR_TYPE.get(kind) if is_card else None
                is_field = bool(field and field.match(unit))
                text = extend_row(units, i, kind)
                labelled = text
                if years and kind is QuestionType.TARGET:
                    labelled = label_values(text, years.split("\t"), asked_years)
                if not matched and not is_field and labelled == text:
                    continue
                base = prior + _type_bonus(labelled, kind, asked_years, wants_share)
                proxy: set[str] = set()
                if is_field or labelled != text:
                    # A card's answering row, or a row of values, stands for its card or table.
                    proxy = context | (query & set(content_terms(labelled)))
                    if is_field:
                        proxy |= card_terms
                limit = MAX_QUOTE_CHARS + (100 if kind is QuestionType.RESPONSIBLE else 0)
                if unit.endswith(":"):
                    limit += LIST_SPARE_CHARS
                found.append(
                    Candidate(
                        trim_quote(labelled, query, limit, self.weight),
                        source.n,
                        frozenset(matched),
                        frozenset(proxy),
                        base,
                    )
                )
        return sorted(found, key=lambda c: c.gain(self.weight, total, set(), set()), reverse=True)


def _relatives(terms: set[str], unit_terms: set[str]) -> set[str]:
    """The terms that one of the unit's terms extends ("crec" -> "crecimient")."""
    return {
        t
        for t in terms
        if len(t) >= MIN_FAMILY_STEM
        and not t.isdigit()
        and any(u.startswith(t) for u in unit_terms)
    }


def _repeats(text: str, parts: list[str]) -> bool:
    """A quote already given, or one starting like a given one (overlapping table rows), or the
    acronym line a glossary definition already expanded."""
    opening = text.lstrip("… ")[:80]
    head = text.split(" ", 1)[0].rstrip(":")
    return any(
        opening in p or p.lstrip("… ")[:80] in text or p.startswith((f"{head}:", f"{head} ("))
        for p in parts
    )


def _type_bonus(
    text: str, kind: QuestionType, asked_years: set[str], wants_share: bool = False
) -> float:
    if kind is QuestionType.TARGET:
        numbers = [n for n in _FIGURE.findall(text) if n not in asked_years]
        if not numbers:
            return -0.1
        # "¿cuántos …?" asks for a count, "¿qué porcentaje …?" for a share.
        return 0.2 + (0.1 if ("%" in text) == wants_share else -0.1)
    if kind is QuestionType.RESPONSIBLE:
        return 0.15 if _ENTITY.search(text) else 0.0
    if kind is QuestionType.DEFINITION:
        return 0.15 if _DEFINING.search(text) else 0.0
    return 0.0
