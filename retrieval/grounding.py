"""The grounding guard: what a language model wrote reaches users one checked sentence at a time.

A sentence is kept only if every [n] it cites names a passage the model was given, and every
number and every capitalised name in it occurs (folded) in the passages it cites, or in any given
passage when it cites none. A sentence that fails is dropped and logged; the service falls back
to the quoted answer when nothing is left.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from retrieval.contract import CITATION
from retrieval.text import fold_accents

logger = logging.getLogger(__name__)

_CITATIONS = r"(?:\s*\[\d+\])*"
# A sentence ends at . ! ? … (then its citations) before the next word, or at a line break.
_SENTENCE = re.compile(rf"(.*?(?:[.!?…]{_CITATIONS}(?=\s+[^\s\[])|\n))\s*", re.S)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W\d_][\w-]*")


class Sentences:
    """Cuts a stream of text pieces into whole sentences, each with its citations and then the
    space or line break that followed it."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, piece: str) -> list[str]:
        """The sentences `piece` completes."""
        self._pending += piece
        return self._cut(final=False)

    def close(self) -> list[str]:
        """The sentences left at the end of the stream."""
        done = self._cut(final=True)
        rest, self._pending = self._pending.strip(), ""
        return done + ([rest] if rest else [])

    def _cut(self, final: bool) -> list[str]:
        done = []
        while match := _SENTENCE.match(self._pending):
            if match.end() == len(self._pending) and not final:
                break  # what follows has not arrived yet: more citations may come
            if sentence := match.group(1).strip():
                done.append(sentence + ("\n" if "\n" in match.group(0) else " "))
            self._pending = self._pending[match.end() :]
        return done


def ungrounded(sentence: str, passages: Mapping[int, str]) -> str | None:
    """Why the sentence may not be shown (in English, for the log), or None if it may."""
    cited = [int(n) for n in CITATION.findall(sentence)]
    unknown = [n for n in cited if n not in passages]
    if unknown:
        return f"cites [{unknown[0]}], which was not given"
    support = fold_accents(
        " ".join(passages[n] for n in cited) if cited else " ".join(passages.values())
    )
    claim = CITATION.sub(" ", sentence)
    for number in _NUMBER.findall(claim):
        if not re.search(rf"(?<!\d)(?<!\d[.,]){re.escape(number)}(?![.,]?\d)", support):
            return f"the number {number} is not in its passages"
    for name in _names(claim):
        if not re.search(rf"(?<!\w){re.escape(fold_accents(name))}(?!\w)", support):
            return f"the name {name} is not in its passages"
    return None


def _names(text: str) -> list[str]:
    """Capitalised words but the first (capitalised by grammar), and acronyms anywhere."""
    words = _WORD.findall(text)
    return [
        word
        for i, word in enumerate(words)
        if (word[0].isupper() and i > 0) or (len(word) > 1 and word.isupper())
    ]


@dataclass
class Guard:
    """Checks a model's text, streamed or whole, against the passages it was given."""

    passages: Mapping[int, str]
    kept: list[str] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why)

    def sentences(self, pieces: Iterable[str]) -> Iterator[str]:
        """The grounded sentences of the stream, as soon as each one is whole."""
        cutter = Sentences()
        for piece in pieces:
            yield from self._checked(cutter.feed(piece))
        yield from self._checked(cutter.close())

    def _checked(self, sentences: list[str]) -> Iterator[str]:
        for sentence in sentences:
            reason = ungrounded(sentence, self.passages)
            if reason is None:
                self.kept.append(sentence)
                yield sentence
            else:
                logger.warning("LLM sentence dropped (%s): %.200s", reason, sentence)
                self.dropped.append((sentence, reason))

    @property
    def text(self) -> str:
        return "".join(self.kept).strip()
