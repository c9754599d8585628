"""Passages by id with their neighbours, for reading a cited chunk in context."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.contract import Chunk


@dataclass(frozen=True)
class PassageContext:
    chunk: Chunk
    previous: Chunk | None
    next: Chunk | None


class PassageIndex:
    """The answering service's live chunks (in document order), looked up by id."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self._chunks = chunks
        self._position = {c.chunk_id: i for i, c in enumerate(chunks)}
        self._first: dict[str, str] = {}
        for chunk in chunks:
            self._first.setdefault(chunk.doc_id, chunk.chunk_id)

    def holds(self, chunks: list[Chunk]) -> bool:
        """Whether these are the very chunks indexed here (a re-index gives a new list)."""
        return chunks is self._chunks

    def first_chunk_id(self, doc_id: str) -> str | None:
        return self._first.get(doc_id)

    def context(self, doc_id: str, chunk_id: str) -> PassageContext | None:
        """The chunk with the previous and next chunk of the same document, or None if unknown."""
        i = self._position.get(chunk_id)
        if i is None or self._chunks[i].doc_id != doc_id:
            return None
        return PassageContext(
            self._chunks[i], self._neighbour(i - 1, doc_id), self._neighbour(i + 1, doc_id)
        )

    def _neighbour(self, i: int, doc_id: str) -> Chunk | None:
        if 0 <= i < len(self._chunks) and self._chunks[i].doc_id == doc_id:
            return self._chunks[i]
        return None
