"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from retrieval.contract import Chunk
from retrieval.embeddings import Embedder
from retrieval.lexical import LexicalIndex
from retrieval.store import ChunkStore

RRF_K = 10  # tuned on the dev set: rewards agreement at the top of both rankings
CANDIDATES = 50


@dataclass(frozen=True)
class Retrieved:
    chunk: Chunk
    score: float  # fused RRF score (0 for a chunk chosen by another signal)


def rrf_fuse(rankings: list[list[str]], weights: list[float], k: int = RRF_K) -> dict[str, float]:
    """Weighted reciprocal-rank fusion of ranked id lists."""
    fused: dict[str, float] = defaultdict(float)
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking):
            fused[item] += weight / (k + rank + 1)
    return fused


class HybridRetriever:
    """Dense + BM25 over the live chunks of a store."""

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        chunks: list[Chunk],
        dense_weight: float = 0.7,
        lexical_weight: float = 1.0,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._chunks = chunks
        self._by_id = {c.chunk_id: c for c in chunks}
        self._position = {c.chunk_id: i for i, c in enumerate(chunks)}
        self._lexical = LexicalIndex(chunks)
        self._weights = [dense_weight, lexical_weight]

    @property
    def chunks(self) -> list[Chunk]:
        return self._chunks

    def term_weight(self, term: str) -> float:
        return self._lexical.weight(term)

    def knows(self, term: str) -> bool:
        return self._lexical.knows(term)

    def terms_of(self, chunk_id: str) -> frozenset[str]:
        """The chunk's indexed terms, as BM25 saw them."""
        return self._lexical.chunk_terms[self._position[chunk_id]]

    def correct(self, text: str) -> str:
        """Folded text with misspelt words replaced by the corpus' own spelling."""
        return self._lexical.correct(text)

    def retrieved(self, chunk_id: str) -> Retrieved:
        """A chunk chosen by another signal (e.g. the glossary), without ranking scores."""
        return Retrieved(self._by_id[chunk_id], 0.0)

    def retrieve(self, query: str, k: int) -> list[Retrieved]:
        """The k best live chunks for a query."""
        vector = self._embedder.embed_query(query)
        dense = [cid for cid, _ in self._store.search(vector, CANDIDATES) if cid in self._by_id]
        lexical = [self._chunks[i].chunk_id for i, _ in self._lexical.search(query, CANDIDATES)]
        fused = rrf_fuse([dense, lexical], self._weights)
        best = sorted(fused, key=fused.__getitem__, reverse=True)[:k]
        return [Retrieved(self._by_id[cid], fused[cid]) for cid in best]
