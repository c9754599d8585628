"""BM25 over the live chunks (bm25s), on folded, stopword-free, stemmed Spanish terms."""

from __future__ import annotations

import logging
import math

import bm25s
import numpy as np

from retrieval.contract import Chunk
from retrieval.text import content_terms

# bm25s sets its logger to DEBUG when imported; its index-building chatter is not ours to show.
logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalIndex:
    """In-memory BM25, rebuilt from the store's chunks whenever the service opens the index."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self._bm25 = bm25s.BM25()
        self._size = len(chunks)
        self._vocabulary: set[str] = set()
        tokenized = []
        for chunk in chunks:
            terms = content_terms(chunk.indexed_text)
            self._vocabulary.update(terms)
            tokenized.append(terms or ["<vacio>"])
        if chunks:
            self._bm25.index(tokenized, show_progress=False)
        self.term_weights = inverse_document_frequency(tokenized)

    def search(self, query: str, n: int) -> list[tuple[int, float]]:
        """(chunk position, BM25 score) of the best matches; empty when no term is known."""
        terms = [t for t in content_terms(query) if t in self._vocabulary]
        if not terms or not self._size:
            return []
        positions, scores = self._bm25.retrieve(
            [terms], k=min(n, self._size), show_progress=False, n_threads=1
        )
        return [
            (int(p), float(s))
            for p, s in zip(positions[0], scores[0], strict=True)
            if s > 0 and np.isfinite(s)
        ]


def inverse_document_frequency(documents: list[list[str]]) -> dict[str, float]:
    """BM25's IDF of each term over tokenised documents (weighs query terms in answers)."""
    df: dict[str, int] = {}
    for terms in documents:
        for term in set(terms):
            df[term] = df.get(term, 0) + 1
    n = len(documents)
    return {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
