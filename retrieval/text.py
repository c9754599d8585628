"""Spanish text normalisation shared by ingestion, BM25, the answerer and the evaluation."""

import re
import unicodedata
from functools import cache

import Stemmer

_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9ñ]+(?:[+&][a-z0-9]+)*")

# Spanish function words (accent-folded); content words carry the retrieval signal.
STOPWORDS = frozenset(
    """
    a al algo algun alguna algunas alguno algunos ante antes aqui asi aun cada como con
    contra cual cuales cualquier cuando cuanta cuantas cuanto cuantos de del desde donde
    dos el ella ellas ellos en entre era eran es esa esas ese eso esos esta estaba estan
    estar estas este esto estos fue fueron ha han hasta hay la las le les lo los mas me mi
    mis mucho muy ni no nos o otra otras otro otros para pero poco por porque puede pueden
    que quien quienes se segun ser si sido sin sobre son su sus tambien tan tiene tienen
    todo todos tu un una unas uno unos y ya yo
    """.split()  # noqa: SIM905
)


def collapse_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def fold_accents(text: str) -> str:
    """Whitespace collapsed, accents dropped, casefolded (the eval README's folding)."""
    decomposed = unicodedata.normalize("NFKD", collapse_whitespace(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("spanish")


# A code such as "S2.1.1", "S.2.1.1" or "L2.4" is one word ("s211"), as people search for it.
_CODE = re.compile(r"\b([a-z]{1,3})\.?\s?(\d{1,2}(?:\.\d{1,2})+)\b")


def words(text: str) -> list[str]:
    """Folded word tokens, stopwords kept."""
    folded = _CODE.sub(lambda m: m.group(1) + m.group(2).replace(".", ""), fold_accents(text))
    return _WORD.findall(folded)


def content_terms(text: str) -> list[str]:
    """Folded, stopword-free, stemmed terms: what BM25 and the answerer match on."""
    return _stemmer().stemWords([w for w in words(text) if w not in STOPWORDS])


_RAW_WORD = re.compile(r"\w+")


def first_terms(text: str, limit: int) -> str:
    """The start of `text` up to its `limit`-th word that is not a stopword, cut before the next."""
    seen = 0
    for match in _RAW_WORD.finditer(text):
        if fold_accents(match.group()) not in STOPWORDS:
            seen += 1
            if seen > limit:
                return text[: match.start()].rstrip()
    return text


_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[¿¡\"“(]?[A-ZÁÉÍÓÚÑ0-9])|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences and table rows (a line break always ends a unit)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def count_words(text: str) -> int:
    return len(text.split())
