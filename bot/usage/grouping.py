"""Questions that are the same modulo accents, case, punctuation, word order and small typos.

Two questions are compared by their content terms (accent-folded, stopword-free, stemmed, as
BM25 sees them): "¿Qué requisitos pide Japón para exportar palta?" and "requisitos para exportar
paltas a japon" share 4 of 5 terms (Jaccard 0.8), "como exporto cafe a alemania" and "¿Cómo
exportar café a Alemania?" all 3 (1.0). The threshold 0.7 keeps apart questions that differ in
the one term that matters: palta vs mango to Japan (3 of 5, 0.6), the certificate of origin
"for China" vs "where to get it" (2 of 4, 0.5). A term of 6+ letters one typo away from another
("exprotar", "requsitos") counts as the same term.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import OSA

from retrieval.text import content_terms, words

SIMILAR = 0.7
TYPO_MIN_CHARS = 6  # shorter stems are too often other words one letter away (palt, plat)

Terms = frozenset[str]


def question_terms(question: str) -> Terms:
    """The comparable terms; a question of stopwords only ("¿qué es?") keeps its words."""
    terms = frozenset(content_terms(question))
    return terms or frozenset({" ".join(words(question))})


def similarity(a: Terms, b: Terms) -> float:
    """Jaccard similarity of two term sets, a typo-away term counting as shared."""
    if a == b:
        return 1.0
    shared = len(a & b)
    rest_b = list(b - a)
    for term in a - b:
        for other in rest_b:
            if _one_typo_apart(term, other):
                rest_b.remove(other)
                shared += 1
                break
    return shared / (len(a) + len(b) - shared)


def group_similar(questions: Sequence[str], threshold: float = SIMILAR) -> list[list[int]]:
    """Positions of the questions grouped by similarity, largest group first.

    Greedy: identical term sets are pooled first, then, most frequent first, each pool joins
    the group whose first pool it resembles most (at least `threshold`) or starts a new one.
    """
    pools: dict[Terms, list[int]] = {}
    for position, question in enumerate(questions):
        pools.setdefault(question_terms(question), []).append(position)
    groups: list[tuple[Terms, list[int]]] = []
    for terms, members in sorted(pools.items(), key=lambda pool: (-len(pool[1]), pool[1][0])):
        scored = [(similarity(terms, leader), group) for leader, group in groups]
        best = max(scored, default=None, key=lambda pair: pair[0])
        if best is not None and best[0] >= threshold:
            best[1].extend(members)
        else:
            groups.append((terms, list(members)))
    ordered = [sorted(group) for _, group in groups]
    return sorted(ordered, key=lambda group: (-len(group), group[0]))


def _one_typo_apart(a: str, b: str) -> bool:
    """One letter added, dropped, changed, or two neighbours swapped (long terms only)."""
    return min(len(a), len(b)) >= TYPO_MIN_CHARS and OSA.distance(a, b, score_cutoff=1) == 1
