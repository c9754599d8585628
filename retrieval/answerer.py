"""The seam for another answer composer (an LLM): it receives the question and the numbered sources
and returns the answer text with [n] citations. By default the answer policy quotes answer units
(retrieval/policy.py)."""

from __future__ import annotations

from typing import Protocol

from retrieval.contract import Source


class Answerer(Protocol):
    def compose(self, question: str, sources: list[Source]) -> str: ...
