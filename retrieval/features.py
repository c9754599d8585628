"""What the answer policy sees: features of each candidate unit, and of the question as a whole.

Every feature is a property of text the policy could meet on any question (term overlap weighted by
IDF, e5 similarity, what the question type asks against what the unit holds);
none names a word of a particular question.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from math import fsum

import numpy as np

from retrieval.query import QuestionType
from retrieval.text import content_terms, fold_accents
from retrieval.units import Unit

MIN_FAMILY_STEM = 4
_FIGURE = re.compile(r"(?<![\w.])\d+(?:[.,\s]\d{3})*(?:[.,]\d+)?(?![\w])")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_ACRONYM = re.compile(r"\b[A-ZÁÉÍÓÚÑ]{3,}\b")
_CAPITALISED = re.compile(r"(?<=[a-záéíóúñ,;] )[A-ZÁÉÍÓÚÑ][a-záéíóúñ]{2,}")
_LABEL = re.compile(r"^[A-ZÁÉÍÓÚÑ][^:.]{2,50}:\s")
_DEFINING = re.compile(r"\b(consiste|se define|se refiere|significa|comprende|es (un|una|el|la))\b")
_ACRONYM_LINE = re.compile(r"^[A-ZÁÉÍÓÚÑ][A-Za-zÁÉÍÓÚÑ0-9+&\-]{1,14}:?\s+[A-ZÁÉÍÓÚÑ]")
_SHARE = re.compile(r"porcentaje|%|proporcion|participacion|tasa")

KINDS = list(QuestionType)
UNIT_PROPERTIES = [
    "novel_entity",
    "novel_number",
    "number",
    "percent",
    "year_asked",
    "entity",
    "fact",
    "list",
    "pair",
    "label",
    "defining",
    "acronym_line",
]
UNIT_FEATURES = [
    "cover",
    "cover_ctx",
    "cover_rel",
    "cover_rank",
    "cover_chunk",
    "cover_next",
    "cover_prev",
    "cover_next_rel",
    "cover_prev_rel",
    "best_in_chunk",
    "dense",
    "dense_rel",
    "dense_rank",
    "length",
    "year_any",
    "share_percent",
    "novel_share",
    *UNIT_PROPERTIES,
    *(f"{k.value}*{p}" for k in KINDS for p in UNIT_PROPERTIES),
    *(f"{k.value}*cover_prev_rel" for k in KINDS),
]
_INTERACTIONS = {k: [(p, f"{k.value}*{p}") for p in UNIT_PROPERTIES] for k in KINDS}
QUESTION_FEATURES = [
    "p_best",
    "p_second",
    "cover_best_unit",
    "dense_best_unit",
    "dense_top_chunk",
    "agreement",
    "n_terms",
    "glossary",
    *(f"kind={k.value}" for k in KINDS),
]
# The abstention classifier also reads the question's own e5 vector: what kind of thing it asks
# for (a price, a phone number, today's office holder), whatever its words. The scope classifier
# reads it alone: is this about export documents at all, or a joke, a recipe, an instruction?
QUESTION_VECTOR_DIM = 384
SCOPE_FEATURES = [f"e5_{i}" for i in range(QUESTION_VECTOR_DIM)]
ABSTENTION_FEATURES = [*QUESTION_FEATURES, *SCOPE_FEATURES]


@dataclass
class QuestionView:
    """The question as the features read it."""

    terms: frozenset[str]
    weights: dict[str, float]
    kind: QuestionType
    years: frozenset[str]
    wants_share: bool
    vector: np.ndarray
    numbers: frozenset[str] = frozenset()  # figures the question itself writes
    extends: dict[str, frozenset[str]] | None = None  # from the corpus vocabulary, if known
    _covers: dict[frozenset[str], float] = field(default_factory=dict, repr=False)

    @property
    def total(self) -> float:
        return fsum(self.weights.values()) or 1.0

    def cover(self, terms: frozenset[str]) -> float:
        """Share of the question's IDF mass the terms hold (a relative of a word counts for it)."""
        if terms not in self._covers:  # a chunk's terms are asked for by each of its units
            held = self.terms & terms
            if self.extends is not None:  # corpus term -> the question terms it extends
                relatives = {t for u in terms & self.extends.keys() for t in self.extends[u]}
            else:
                relatives = {
                    t for t in self.terms if _may_extend(t) and any(u.startswith(t) for u in terms)
                }
            relatives -= held
            self._covers[terms] = fsum(self.weights[t] for t in held | relatives) / self.total
        return self._covers[terms]


@dataclass
class Candidate:
    """One unit of a cited source, ready to be scored."""

    unit: Unit
    n: int  # the source's citation number
    terms: frozenset[str]
    vector: np.ndarray | None
    neighbours: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
    context: frozenset[str] = frozenset()
    chunk_terms: frozenset[str] = frozenset()


def _may_extend(term: str) -> bool:
    return len(term) >= MIN_FAMILY_STEM and not term.isdigit()


def extensions(terms: frozenset[str], vocabulary: list[str]) -> dict[str, frozenset[str]]:
    """Each word of the sorted vocabulary that extends a question term ("crecimient" for "crec")."""
    found: dict[str, set[str]] = {}
    for t in filter(_may_extend, terms):
        i = bisect.bisect_left(vocabulary, t)
        while i < len(vocabulary) and vocabulary[i].startswith(t):
            found.setdefault(vocabulary[i], set()).add(t)
            i += 1
    return {u: frozenset(ts) for u, ts in found.items()}


def unit_terms(text: str) -> frozenset[str]:
    return frozenset(content_terms(text))


def unit_matrix(view: QuestionView, candidates: list[Candidate]) -> np.ndarray:
    """One row of UNIT_FEATURES per candidate."""
    if not candidates:
        return np.zeros((0, len(UNIT_FEATURES)))
    covers = np.asarray([view.cover(c.terms) for c in candidates])
    dense = np.asarray(
        [
            float(c.vector @ view.vector) if c.vector is not None and c.vector.size else 0.0
            for c in candidates
        ]
    )
    best_cover = covers.max()
    best_by_chunk: dict[int, float] = {}
    for c, cover in zip(candidates, covers, strict=True):
        best_by_chunk[c.n] = max(best_by_chunk.get(c.n, 0.0), cover)
    best_in_chunk = [
        float(cover >= best_by_chunk[c.n] > 0) for c, cover in zip(candidates, covers, strict=True)
    ]
    cover_next = np.asarray([view.cover(c.neighbours[1]) for c in candidates])
    cover_prev = np.asarray([view.cover(c.neighbours[0]) for c in candidates])
    props = [_properties(c.unit, view) for c in candidates]
    f: dict[str, np.ndarray] = {
        "cover": covers,
        "cover_ctx": np.asarray([view.cover(c.terms | c.context) for c in candidates]),
        "cover_rel": covers - best_cover,
        "cover_rank": 1 / (1 + np.asarray(_ranks(list(covers)))),
        "cover_chunk": np.asarray([view.cover(c.chunk_terms) for c in candidates]),
        "cover_next": cover_next,
        "cover_prev": cover_prev,
        # A flattened row: the unit that follows the one matching the question holds its cells.
        "cover_next_rel": cover_next - best_cover,
        "cover_prev_rel": cover_prev - best_cover,
        "best_in_chunk": np.asarray(best_in_chunk),
        "dense": dense,
        "dense_rel": dense - dense.max(),
        "dense_rank": 1 / (1 + np.asarray(_ranks(list(dense)))),
        "length": np.asarray([math.log(1 + len(c.unit.text)) / 6 for c in candidates]),
        "year_any": np.asarray([float(bool(read_unit(c.unit.text).years)) for c in candidates]),
        "share_percent": np.asarray([float(view.wants_share and p["percent"] > 0) for p in props]),
        "novel_share": np.asarray(
            [len(c.terms - view.terms) / max(1, len(c.terms)) for c in candidates]
        ),
    }
    for name in UNIT_PROPERTIES:
        f[name] = np.asarray([p[name] for p in props])
    # Only the question's own type interacts with the unit; the other types' columns stay 0.
    for p, name in _INTERACTIONS[view.kind]:
        f[name] = f[p]
    f[f"{view.kind.value}*cover_prev_rel"] = f["cover_prev_rel"]
    zeros = np.zeros(len(candidates))
    return np.column_stack([f.get(name, zeros) for name in UNIT_FEATURES]).astype(np.float64)


@dataclass(frozen=True)
class _Reading:
    """What a unit's text holds, whatever the question (cached: units recur across questions)."""

    years: frozenset[str]
    figures: tuple[str, ...]
    names: tuple[frozenset[str], ...]  # the terms of each acronym or capitalised name
    percent: bool
    label: bool
    defining: bool
    acronym_line: bool


@lru_cache(maxsize=65536)
def read_unit(text: str) -> _Reading:
    years = frozenset(_YEAR.findall(text))
    names = _ACRONYM.findall(text) + _CAPITALISED.findall(text)
    return _Reading(
        years,
        tuple(f.strip() for f in _FIGURE.findall(text) if f.strip() not in years),
        tuple(_name_terms(n) for n in names),
        "%" in text,
        bool(_LABEL.match(text)),
        bool(_DEFINING.search(fold_accents(text))),
        bool(_ACRONYM_LINE.match(text)),
    )


@lru_cache(maxsize=65536)
def _name_terms(name: str) -> frozenset[str]:
    return frozenset(content_terms(name))


def _properties(unit: Unit, view: QuestionView) -> dict[str, float]:
    r = read_unit(unit.text)
    # What the unit adds to the question: names and figures the question does not already hold.
    novel_names = [n for n in r.names if not n <= view.terms]
    novel_figures = [f for f in r.figures if f not in view.numbers]
    return {
        "novel_entity": min(1.0, len(novel_names) / 2),
        "novel_number": min(1.0, len(novel_figures) / 2),
        "number": min(1.0, len(r.figures) / 2),
        "percent": float(r.percent),
        "year_asked": float(bool(view.years & r.years)),
        "entity": min(1.0, len(r.names) / 3),
        "fact": float(unit.kind == "fact"),
        "list": float(unit.kind == "list"),
        "pair": float(unit.kind == "pair"),
        "label": float(r.label),
        "defining": float(r.defining),
        "acronym_line": float(r.acronym_line),
    }


def _ranks(values: list[float]) -> list[int]:
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0] * len(values)
    for r, i in enumerate(order):
        ranks[i] = r
    return ranks


def wants_share(question: str) -> bool:
    return bool(_SHARE.search(fold_accents(question)))


def figures_in(text: str) -> frozenset[str]:
    return frozenset(f.strip() for f in _FIGURE.findall(text))
