"""Documents a question names ("según el estudio del Sur Andino y la PNMCE"), read off the catalog.

A document is named by its kind when no other document has that kind ("el artículo", "el estudio"),
by an acronym of its title ("PNMCE"), or by a word that only its title holds ("moluscos"). Nothing
here comes from questions: the names are those of the indexed documents' own metadata.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from retrieval.contract import Chunk, DocumentRecord, Source
from retrieval.text import content_terms

if TYPE_CHECKING:
    from retrieval.hybrid import Retrieved

_ACRONYM = re.compile(r"\b[A-ZÁÉÍÓÚÑ]{3,}\b")
MIN_NAME_CHARS = 4
SPECIFIC_SHARE = 0.8  # a title word names its document when its passages mostly lie there
RARE_SHARE = 0.1  # … and it is a rare word (not "comercio" in a policy on trade)


def document_names(
    records: Iterable[DocumentRecord], chunks: Iterable[Chunk]
) -> dict[str, set[frozenset[str]]]:
    """doc_id -> the term sets that name it: its kind when no other document has it, and the acronyms
    and words of its title that no other title has and that its own text mostly holds."""
    records = list(records)
    held_by: dict[str, Counter[str]] = defaultdict(Counter)  # term -> chunks holding it per doc
    n_chunks = 0
    for chunk in chunks:
        n_chunks += 1
        for term in set(content_terms(chunk.text)):
            held_by[term][chunk.doc_id] += 1
    kinds = Counter(r.kind for r in records)
    titles: dict[str, set[str]] = {}
    acronyms: dict[str, set[str]] = {}
    for r in records:
        titles[r.doc_id] = {t for t in content_terms(r.title) if len(t) >= MIN_NAME_CHARS}
        acronyms[r.doc_id] = {t for a in _ACRONYM.findall(r.title) for t in content_terms(a)}
    in_titles = Counter(t for d in titles for t in titles[d] | acronyms[d])
    names: dict[str, set[frozenset[str]]] = {}
    for r in records:
        own = {frozenset([t]) for t in acronyms[r.doc_id] if in_titles[t] == 1}
        own |= {
            frozenset([t])
            for t in titles[r.doc_id]
            if in_titles[t] == 1
            and _names_its_document(held_by.get(t, Counter()), r.doc_id, n_chunks)
        }
        if kinds[r.kind] == 1:  # "el plan operativo": every word of the kind
            own.add(frozenset(content_terms(r.kind.replace("-", " "))))
        names[r.doc_id] = own
    return names


def _names_its_document(held: Counter[str], doc_id: str, n_chunks: int) -> bool:
    """A rare word whose passages mostly belong to this document."""
    total = sum(held.values())
    return 0 < total <= RARE_SHARE * n_chunks and held[doc_id] / total >= SPECIFIC_SHARE


def named_documents(question: str, names: dict[str, set[frozenset[str]]]) -> list[str]:
    """The documents the question names, in document-id order."""
    terms = set(content_terms(question))
    return sorted(d for d, own in names.items() if any(name <= terms for name in own))


def cover_documents(ranked: list[Retrieved], named: list[str], k: int) -> list[Retrieved]:
    """The ranking with its first k places shared in turn by the named documents (each one's
    best passage, then each one's second best, …), then the rest in their order."""
    by_doc = {d: [r for r in ranked if r.chunk.doc_id == d] for d in named}
    first: list[Retrieved] = []
    for depth in range(k):
        for doc_id in named:
            if len(first) < k and depth < len(by_doc[doc_id]):
                first.append(by_doc[doc_id][depth])
    taken = {r.chunk.chunk_id for r in first}
    first.sort(key=ranked.index)
    return first + [r for r in ranked if r.chunk.chunk_id not in taken]


def named_sources(named: list[str], sources: list[Source]) -> list[frozenset[int]]:
    """For each named document, the citation numbers of its passages among the sources; none
    unless the question names two or more (one named document is simply what it asks about)."""
    if len(named) < 2:
        return []
    return [frozenset(s.n for s in sources if s.doc_id == d) for d in named]
