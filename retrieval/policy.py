"""The answer policy: which units answer, and whether to answer at all. Learned, not hand-set.

Two logistic models trained by `exporta train` on the gold questions (retrieval/training.py):
the unit scorer (does this unit hold what was asked?) and the abstention classifier (do the
documents cover the question?), with the thresholds chosen on cross-validation folds. The weights
live in `retrieval/models/answer_policy.json`; answering needs only numpy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.contract import CITATION
from retrieval.errors import PolicyMissing
from retrieval.features import (
    ABSTENTION_FEATURES,
    KINDS,
    QUESTION_FEATURES,
    QUESTION_VECTOR_DIM,
    SCOPE_FEATURES,
    UNIT_FEATURES,
    Candidate,
    QuestionView,
    unit_matrix,
)
from retrieval.glossary import mentions

POLICY_FILE = Path(__file__).with_name("models") / "answer_policy.json"
MAX_UNITS = 4
# A lower-case start and a full stop, then a sentence: the tail of a sentence cut at a page turn.
_SENTENCE_TAIL = re.compile(r"^[a-záéíóúñ][^.;:]{2,80}\.\s+(?=[¿(“\"]?[A-ZÁÉÍÓÚÑ])")
MIN_QUOTED_CHARS = 40  # what is left after the tail must still say something
MIN_NEW_TERMS = 0.25  # a further unit must say at least this share of words not quoted yet


@dataclass
class LogisticModel:
    """Standardised features, weights and intercept of a fitted logistic regression."""

    names: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probability(self, x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            return np.zeros(0)
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1 / (1 + np.exp(-np.clip(z, -30, 30)))

    def to_dict(self) -> dict:
        return {
            "names": self.names,
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(),
            "intercept": round(float(self.intercept), 6),
        }

    @classmethod
    def from_dict(cls, data: dict, expected: list[str]) -> LogisticModel:
        if data["names"] != expected:
            raise PolicyMissing("errors.policy_missing", path=POLICY_FILE)
        return cls(
            data["names"],
            np.asarray(data["mean"]),
            np.asarray(data["scale"]),
            np.asarray(data["coef"]),
            float(data["intercept"]),
        )


@dataclass
class Deliberation:
    """Everything the policy decides from: the question, its candidate units, retrieval signals."""

    view: QuestionView
    candidates: list[Candidate]
    signals: dict[str, float]  # question-level retrieval signals (see QUESTION_FEATURES)
    definitions: list[str] = field(default_factory=list)  # glossary lines for "¿qué es ACR?"
    subjects: list[str] = field(default_factory=list)  # the acronyms they define (folded)
    acronyms: list[str] = field(default_factory=list)  # glossary acronyms it names (folded)
    glossary_sources: set[int] = field(default_factory=set)  # sources that are acronym lists
    # The sources of each document the question names, when it names two or more ("¿coinciden
    # el estudio y la PNMCE?"): the answer quotes each one.
    named_sources: list[frozenset[int]] = field(default_factory=list)
    unit_x: np.ndarray | None = None

    def units_x(self) -> np.ndarray:
        if self.unit_x is None:
            self.unit_x = unit_matrix(self.view, self.candidates)
        return self.unit_x


@dataclass(frozen=True)
class Decision:
    abstained: bool
    uncertain: bool  # answered, but the match is not clear: said so
    quotes: list[str]
    evidence: dict[int, str] = field(default_factory=dict)  # what a composer (an LLM) reads
    out_of_scope: bool = False  # not about the documents' subject: said so, with no sources


def own_vector(delib: Deliberation) -> np.ndarray:
    """The question's e5 vector (SCOPE_FEATURES)."""
    own = np.zeros(QUESTION_VECTOR_DIM)
    vector = np.asarray(delib.view.vector, dtype=np.float64).ravel()[:QUESTION_VECTOR_DIM]
    own[: vector.size] = vector
    return own


def question_vector(delib: Deliberation, unit_p: np.ndarray) -> np.ndarray:
    """ABSTENTION_FEATURES for a deliberation, given its units' probabilities."""
    ranked = np.sort(unit_p)[::-1] if unit_p.size else np.zeros(2)
    x = delib.units_x()
    cover = x[:, UNIT_FEATURES.index("cover")] if x.size else np.zeros(1)
    dense = x[:, UNIT_FEATURES.index("dense")] if x.size else np.zeros(1)
    f = dict(delib.signals)
    f["p_best"] = float(ranked[0])
    f["p_second"] = float(ranked[1]) if ranked.size > 1 else 0.0
    f["cover_best_unit"] = float(cover.max())
    f["dense_best_unit"] = float(dense.max())
    f["glossary"] = float(bool(delib.definitions))
    for kind in KINDS:
        f[f"kind={kind.value}"] = float(delib.view.kind is kind)
    return np.concatenate([[f[name] for name in QUESTION_FEATURES], own_vector(delib)])


@dataclass
class AnswerPolicy:
    units: LogisticModel
    scope: LogisticModel  # probability that the question is not about the documents' subject
    abstention: LogisticModel  # probability that the documents do not cover the question
    scope_at: float  # a question the scope classifier rates at least this is out of scope
    abstain_at: float
    uncertain_at: float
    keep_ratio: float  # units scoring at least this share of the best one are quoted too
    meta: dict = field(default_factory=dict)

    def decide(
        self,
        delib: Deliberation,
        max_chars: int = 600,
        uncertain_note: int = 0,
        evidence_chars: int = 0,
    ) -> Decision:
        """Abstain, or the quotes that answer (within max_chars, less `uncertain_note` characters
        when the match is uncertain and the answer says so) and, for a composer, the best units
        within `evidence_chars`."""
        unit_p = self.units.probability(delib.units_x())
        p_out = float(self.abstention.probability(question_vector(delib, unit_p)[None, :])[0])
        # Out of scope: the question reads like no export document (a joke, a recipe, an order
        # to the assistant), unless it names an acronym the documents' glossaries define (a bare
        # "DIRCETUR?" may read odd to the scope classifier and still be what they are about).
        if not delib.acronyms and self.out_of_scope(delib):
            return Decision(True, False, [], out_of_scope=True)
        if not delib.candidates and not delib.definitions:
            return Decision(True, False, [])
        if p_out >= self.abstain_at:
            return Decision(True, False, [])
        uncertain = p_out >= self.uncertain_at
        budget = max_chars - (uncertain_note if uncertain else 0)
        quotes = select_quotes(delib, unit_p, self.keep_ratio, budget)
        evidence = select_evidence(delib, unit_p, evidence_chars) if evidence_chars else {}
        return Decision(not quotes, uncertain, quotes, evidence)

    def out_of_scope(self, delib: Deliberation) -> bool:
        """Not about the documents' subject at all: a joke, a recipe, an order to the assistant."""
        p = float(self.scope.probability(own_vector(delib)[None, :])[0])
        return p >= self.scope_at

    def to_dict(self) -> dict:
        return {
            "units": self.units.to_dict(),
            "scope": self.scope.to_dict(),
            "abstention": self.abstention.to_dict(),
            "scope_at": round(self.scope_at, 6),
            "abstain_at": round(self.abstain_at, 6),
            "uncertain_at": round(self.uncertain_at, 6),
            "keep_ratio": self.keep_ratio,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict) -> AnswerPolicy:
        return cls(
            LogisticModel.from_dict(data["units"], UNIT_FEATURES),
            # A policy from before the scope classifier: its missing names say "run exporta train".
            LogisticModel.from_dict(data.get("scope", {"names": []}), SCOPE_FEATURES),
            LogisticModel.from_dict(data["abstention"], ABSTENTION_FEATURES),
            float(data["scope_at"]),
            float(data["abstain_at"]),
            float(data["uncertain_at"]),
            float(data["keep_ratio"]),
            data.get("meta", {}),
        )

    def save(self, path: Path = POLICY_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        path.write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = POLICY_FILE) -> AnswerPolicy:
        if not path.is_file():
            raise PolicyMissing("errors.policy_missing", path=path)
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def select_quotes(
    delib: Deliberation, unit_p: np.ndarray, keep_ratio: float, max_chars: int
) -> list[str]:
    """The glossary lines, then the best units across sources, each cited, within max_chars."""
    quotes = list(delib.definitions)
    used = sum(len(q) + 1 for q in quotes)
    if not unit_p.size:
        return quotes
    ranked = np.argsort(-unit_p, kind="stable")
    best = unit_p[ranked[0]]
    leads = _document_leads(delib, ranked)
    order = [*leads, *(i for i in ranked if i not in leads)]
    quoted_terms: set[str] = set()
    quoted_units: list[str] = []
    quoted_places: set[tuple[int, int]] = set()  # (source, unit position) already quoted
    taken = 0
    for i in order:
        c = delib.candidates[i]
        # After the glossary's expansions, one sentence on what it is: one that names it, from a
        # passage other than the acronym lists the expansions came from.
        most = 1 if delib.definitions else MAX_UNITS
        if taken and i not in leads and (unit_p[i] < keep_ratio * best or taken >= most):
            break
        if delib.definitions and (
            c.n in delib.glossary_sources or not mentions(c.unit.text, delib.subjects)
        ):
            continue
        text = _from_its_sentence(c.unit.text)
        piece = f"{text} [{c.n}]"
        places = _places(c)
        if taken and (
            len(c.terms - quoted_terms) < MIN_NEW_TERMS * len(c.terms)
            or places & quoted_places
            or _overlaps(c.unit.text, quoted_units)
        ):
            continue  # says nothing that was not quoted already
        if used + len(piece) > max_chars:
            if quotes:
                continue
            piece = f"{text[: max_chars - 8].rsplit(' ', 1)[0]} … [{c.n}]"
        quotes.append(piece)
        used += len(piece) + 1
        quoted_terms |= c.terms
        quoted_units.append(c.unit.text)
        quoted_places |= places
        taken += 1
    return quotes


def _from_its_sentence(text: str) -> str:
    """A unit that opens with the tail of a sentence cut at a page turn ("estratégica y
    eficiente. La Ley de Procompite …") quoted from its first whole sentence."""
    tail = _SENTENCE_TAIL.match(text)
    if tail and len(text) - tail.end() >= MIN_QUOTED_CHARS:
        return text[tail.end() :]
    return text


def _document_leads(delib: Deliberation, ranked: np.ndarray) -> list[int]:
    """The best unit of each document in `named_sources`, best first."""
    firsts = (
        next((i for i in ranked if delib.candidates[i].n in ns), None) for ns in delib.named_sources
    )
    return sorted((i for i in firsts if i is not None), key=list(ranked).index)


def select_evidence(delib: Deliberation, unit_p: np.ndarray, max_chars: int) -> dict[int, str]:
    """What a composer reads, by source number: the glossary lines, then the units the scorer
    ranks best until `max_chars`, each source's in document order (so the prompt stays short)."""
    picked: dict[int, dict[int, str]] = {}  # source -> unit position -> text
    used = 0
    for k, line in enumerate(delib.definitions):  # positions below 0: before the source's units
        cited = CITATION.search(line)
        n = int(cited.group(1)) if cited else 1
        picked.setdefault(n, {})[k - len(delib.definitions)] = CITATION.sub("", line).strip()
        used += len(line)
    for i in np.argsort(-unit_p, kind="stable") if unit_p.size else []:
        c = delib.candidates[i]
        if used >= max_chars:
            break
        if c.unit.kind == "pair" or c.unit.position in picked.get(c.n, {}):
            continue  # a pair's halves are units of their own
        picked.setdefault(c.n, {})[c.unit.position] = c.unit.text
        used += len(c.unit.text) + 1
    return {n: " ".join(units[p] for p in sorted(units)) for n, units in sorted(picked.items())}


def _places(c: Candidate) -> set[tuple[int, int]]:
    """The units of its source a candidate quotes (a pair quotes two)."""
    span = 2 if c.unit.kind == "pair" else 1
    return {(c.n, c.unit.position + i) for i in range(span)}


def _overlaps(text: str, quoted: list[str]) -> bool:
    """The unit is part of a quoted one, or holds one (a pair and its halves)."""
    return any(text in q or q in text for q in quoted)
