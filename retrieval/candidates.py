"""The answer units of the live chunks, read once per index snapshot, as candidates for a question."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from retrieval.contract import Chunk, Source
from retrieval.features import Candidate, read_unit, unit_terms
from retrieval.units import Unit, decode_vectors, units_from_json

logger = logging.getLogger(__name__)

PAIR_MAX_CHARS = 320  # two units this short together are also a candidate


class UnitBook:
    """chunk_id -> its units, their vectors and terms (vectors as stored at ingestion)."""

    def __init__(self, chunks: list[Chunk], chunk_terms: Callable[[str], frozenset[str]]) -> None:
        self._units: dict[str, list[Unit]] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._context: dict[str, frozenset[str]] = {}
        self._terms: dict[str, list[frozenset[str]]] = {}
        self._chunk_terms = chunk_terms
        without_vectors = 0
        for chunk in chunks:
            units = units_from_json(chunk.units)
            vectors = decode_vectors(chunk.unit_vectors, len(units))
            if len(vectors) != len(units):
                without_vectors += 1
            self._units[chunk.chunk_id] = units
            self._vectors[chunk.chunk_id] = vectors
            self._context[chunk.chunk_id] = unit_terms(chunk.context)
        if without_vectors:
            logger.warning("%d chunks have no unit vectors: re-index them", without_vectors)

    def __len__(self) -> int:
        return sum(len(u) for u in self._units.values())

    def units_of(self, chunk_id: str) -> list[Unit]:
        return self._units.get(chunk_id, [])

    def warm(self) -> None:
        """Read every unit's terms and properties now rather than at its first question."""
        for chunk_id, units in self._units.items():
            self._unit_terms(chunk_id)
            for unit in units:
                read_unit(unit.text)

    def _unit_terms(self, chunk_id: str) -> list[frozenset[str]]:
        if chunk_id not in self._terms:
            self._terms[chunk_id] = [unit_terms(u.text) for u in self._units.get(chunk_id, [])]
        return self._terms[chunk_id]

    def candidates(self, sources: list[Source]) -> list[Candidate]:
        """Every unit of the sources, in source order."""
        found = []
        for source in sources:
            units = self._units.get(source.chunk_id, [])
            vectors = self._vectors.get(source.chunk_id)
            terms = self._unit_terms(source.chunk_id)
            chunk_terms = self._chunk_terms(source.chunk_id)
            context = self._context.get(source.chunk_id, frozenset())
            for i, unit in enumerate(units):
                vector = vectors[i] if vectors is not None and len(vectors) == len(units) else None
                before = terms[i - 1] if i > 0 else frozenset()
                after = terms[i + 1] if i + 1 < len(terms) else frozenset()
                found.append(
                    Candidate(
                        unit,
                        source.n,
                        terms[i],
                        vector,
                        (before, after),
                        context,
                        chunk_terms,
                    )
                )
                if i + 1 < len(units) and len(unit.text) + len(units[i + 1].text) < PAIR_MAX_CHARS:
                    # A flattened table row spills over two units: they are also read together.
                    text = f"{unit.text} {units[i + 1].text}"
                    pair = Unit(text=text, kind="pair", position=unit.position)
                    following = terms[i + 2] if i + 2 < len(terms) else frozenset()
                    found.append(
                        Candidate(
                            pair,
                            source.n,
                            terms[i] | terms[i + 1],
                            _mean(vector, vectors[i + 1] if vector is not None else None),
                            (before, following),
                            context,
                            chunk_terms,
                        )
                    )
        return found


def _mean(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None or b is None:
        return None
    v = a + b
    return v / (np.linalg.norm(v) or 1.0)
