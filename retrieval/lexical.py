"""BM25 over the live chunks (bm25s), on folded, stopword-free, stemmed Spanish terms."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter

import bm25s
import numpy as np
from rapidfuzz import fuzz, process

from retrieval.contract import Chunk
from retrieval.text import STOPWORDS, content_terms, fold_accents, words

# bm25s sets its logger to DEBUG when imported; its index-building chatter is not ours to show.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_WORD_RUN = re.compile(r"\w+")
_LETTERS = re.compile(r"[^\W\d_]+")
SPELLING_CUTOFF = 0.85  # similarity a misspelt query term needs to a corpus term to be replaced
TYPO_CUTOFF = 0.8  # an unknown term this close to a known one may be a typo, not a new subject


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
        self.chunk_terms = [frozenset(terms) for terms in tokenized]
        if chunks:
            self._bm25.index(tokenized, show_progress=False)
        self.term_weights = inverse_document_frequency(tokenized)
        # A term the corpus never uses is as telling as its rarest one.
        self._unknown_weight = max(self.term_weights.values(), default=1.0)
        self._words = {w for chunk in chunks for w in words(chunk.indexed_text)}
        self._long_words = sorted(w for w in self._words if len(w) >= 5 and not w.isdigit())
        self._spelling: dict[str, str] = {}
        self._written = most_written(chunks)
        self.sorted_vocabulary = sorted(self._vocabulary)
        self._resembles: dict[str, bool] = {}

    def weight(self, term: str) -> float:
        """How telling a term is (BM25's IDF); unknown terms weigh as the rarest known one."""
        return self.term_weights.get(term, self._unknown_weight)

    def rarity(self, term: str) -> float:
        """The term's weight as a share of the rarest term's (1.0): comparable across corpora."""
        return self.weight(term) / self._unknown_weight

    def knows(self, term: str) -> bool:
        return term in self._vocabulary

    def resembles_known(self, term: str) -> bool:
        """Whether an unknown term looks like a misspelling of a known one ("capasit")."""
        if term not in self._resembles:
            close = close_matches(term, self.sorted_vocabulary, TYPO_CUTOFF)
            # A typo keeps about the word's length ("capasit" / "capacit", not "telefon" /
            # "telecomun").
            self._resembles[term] = any(abs(len(c) - len(term)) <= 1 for c in close)
        return self._resembles[term]

    def correct(self, text: str) -> str:
        """The question with misspelt words replaced by corpus words ("certificasion"); the
        other words are left exactly as typed."""
        return _WORD_RUN.sub(lambda m: self._spelled(m.group(0)), text)

    def as_written(self, text: str) -> str:
        """The question with each word typed in plain lower case ("senasa", "certificacion")
        spelt as the documents most often write it ("SENASA", "certificación"), for the dense
        model, which reads accents and capitals; a word typed with either stays as typed."""
        return _LETTERS.sub(self._as_written, text)

    def _as_written(self, match: re.Match) -> str:
        word = match.group(0)  # folding changes a word typed with capitals or accents
        return self._written.get(word, word) if word == fold_accents(word) else word

    def _spelled(self, original: str) -> str:
        word = fold_accents(original)
        if word in self._words or len(word) < 6 or word.isdigit() or word in STOPWORDS:
            return original
        if word not in self._spelling:
            self._spelling[word] = original
            if not any(t in self._vocabulary for t in content_terms(word)):  # not a known family
                close = close_matches(word, self._long_words, SPELLING_CUTOFF)
                # A typo keeps its first letter and about its length ("oregnao", "expotacion").
                close = [c for c in close if c[0] == word[0] and abs(len(c) - len(word)) <= 1]
                if close:
                    self._spelling[word] = close[0]
        return self._spelling[word]

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


def close_matches(word: str, choices: list[str], cutoff: float, n: int = 3) -> list[str]:
    """The `n` choices most similar to `word` (Indel similarity, 0–1, at least `cutoff`), best
    first; equal scores in reverse alphabetical order, as difflib's get_close_matches gives them."""
    found = process.extract(word, choices, scorer=fuzz.ratio, score_cutoff=cutoff * 100, limit=None)
    return [c for c, _, _ in sorted(found, key=lambda m: (m[1], m[0]), reverse=True)[:n]]


def most_written(chunks: list[Chunk]) -> dict[str, str]:
    """Each word's most frequent spelling in the chunks, by its folded form ("senasa": "SENASA")."""
    spellings = Counter(w for chunk in chunks for w in _LETTERS.findall(chunk.text))
    written: dict[str, str] = {}
    for spelling, _ in spellings.most_common():
        written.setdefault(fold_accents(spelling), spelling)
    return written


def inverse_document_frequency(documents: list[list[str]]) -> dict[str, float]:
    """BM25's IDF of each term over tokenised documents (weighs query terms in answers)."""
    df: dict[str, int] = {}
    for terms in documents:
        for term in set(terms):
            df[term] = df.get(term, 0) + 1
    n = len(documents)
    return {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
