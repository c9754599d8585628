"""Acronym glossary extracted from the documents' acronym lists, kept per document.

Two documents may expand the same acronym differently (CERX, SANIPES, FONDEPES): both are kept and
shown, each with its own citation.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from retrieval.contract import Chunk, Source
from retrieval.text import STOPWORDS, fold_accents

GLOSSARY_SECTION = re.compile(r"acr[oó]nimos|siglas|glosario", re.IGNORECASE)
_COLON_ENTRY = re.compile(r"^([^\s:][^:]{0,24}?)\s*:\s+(\S.*)$")
_ACRONYM_TOKEN = re.compile(r"^[A-ZÁÉÍÓÚÑ][A-Za-zÁÉÍÓÚÑáéíóúñ0-9+&\-]{1,14}$")


_ASKING = r"(?:que es|que son|que significa|significado|siglas|que quiere decir|definicion)"


@dataclass(frozen=True)
class GlossaryEntry:
    acronym: str
    expansion: str
    doc_id: str
    title: str
    chunk_id: str


MAX_ENTRY_CHARS = 220


def parse_entry(line: str) -> tuple[str, str] | None:
    """'CERX: Comités …', 'CERX Comité …' or 'Direpro Dirección …' -> (acronym, expansion)."""
    line = line.strip().rstrip(".").strip()
    if len(line) > MAX_ENTRY_CHARS:
        return None
    match = _COLON_ENTRY.match(line)
    if match and _looks_like_acronym(match.group(1)):
        return match.group(1).strip(), match.group(2).strip()
    tokens = line.split()
    if len(tokens) < 2 or not _ACRONYM_TOKEN.match(tokens[0]):
        return None
    cut = 1
    while cut < len(tokens) - 1 and tokens[cut].isupper() and len(tokens[cut]) > 1:
        cut += 1  # multi-word acronyms: "INNOVATE PERU Programa …"
    acronym, expansion = " ".join(tokens[:cut]), " ".join(tokens[cut:])
    if not expansion[:1].isupper() or not _looks_like_acronym(acronym):
        return None
    return acronym, expansion


def _looks_like_acronym(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if not letters or len(text) > 25:
        return False
    uppers = sum(c.isupper() for c in letters)
    # "CERX", "I+D", or a capitalised short name such as "Direpro" or "Fidecom".
    return uppers >= 2 or (
        len(text) >= 4 and " " not in text and fold_accents(text) not in STOPWORDS
    )


def _as_word(acronym: str) -> str:
    """A pattern for the (folded) acronym as a word of its own."""
    return rf"(?<![\w+]){re.escape(acronym)}(?![\w+])"


def mentions(text: str, acronyms: list[str]) -> bool:
    """Whether the text names one of the (folded) acronyms as a word of its own."""
    folded = fold_accents(text)
    return any(re.search(_as_word(a), folded) for a in acronyms)


class Glossary:
    """acronym (folded) -> entries, one per document that expands it."""

    def __init__(self, chunks: list[Chunk]) -> None:
        entries: dict[str, dict[str, GlossaryEntry]] = defaultdict(dict)
        for chunk in chunks:
            if not GLOSSARY_SECTION.search(chunk.section or ""):
                continue
            for line in chunk.text.split("\n"):
                parsed = parse_entry(line)
                if parsed:
                    acronym, expansion = parsed
                    entry = GlossaryEntry(
                        acronym, expansion, chunk.doc_id, chunk.title, chunk.chunk_id
                    )
                    entries[fold_accents(acronym)].setdefault(chunk.doc_id, entry)
        self._entries = {key: list(by_doc.values()) for key, by_doc in entries.items()}
        self.chunk_ids = {e.chunk_id for by_doc in entries.values() for e in by_doc.values()}
        self._titles = " ".join(sorted({fold_accents(c.title) for c in chunks}))

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, acronym: str) -> list[GlossaryEntry]:
        return self._entries.get(fold_accents(acronym), [])

    def acronyms_in(self, question: str) -> list[str]:
        """Glossary acronyms the question mentions (case- and accent-insensitive)."""
        found = [key for key in self._entries if mentions(question, [key])]
        # "INNOVATE PERU" beats "INNOVATE": drop keys contained in a longer match.
        return [k for k in found if not any(k != o and k in o for o in found)]

    def only_acronyms(self, question: str, found: list[str] | None = None) -> bool:
        """A question that is nothing but glossary acronyms ("DIRCETUR?", "vuce y sunat"): typed
        as a keyword, it asks what they are. `found`: its `acronyms_in`, if already known."""
        found = self.acronyms_in(question) if found is None else found
        rest = fold_accents(question)
        for a in sorted(found, key=len, reverse=True):
            rest = re.sub(_as_word(a), " ", rest)
        return bool(found) and not (set(re.findall(r"\w+", rest)) - {"y", "e", "o"})

    def subjects(self, question: str) -> list[str]:
        """Acronyms whose meaning the question asks ("que es X", "X que significa", "siglas X",
        or the acronym alone)."""
        folded = fold_accents(question)
        found = self.acronyms_in(question)
        bare = self.only_acronyms(question, found)
        return [
            a
            for a in found
            if a not in self._titles
            and (
                bare
                or re.search(
                    rf"{_ASKING}\s+(?:(?:el|la|los|las|del|de)\s+)?{re.escape(a)}(?![\w+])", folded
                )
                or re.search(rf"(?<![\w+]){re.escape(a)}\W{{0,3}}{_ASKING}", folded)
            )
        ]

    def definition_lines(self, question: str, sources: list[Source]) -> list[str]:
        """'ACR: expansion [1][2]' for each acronym the question asks about, from the cited
        sources; when documents expand it differently, one line per document, naming it."""
        by_chunk = {s.chunk_id: s.n for s in sources}
        lines = []
        for acronym in self.subjects(question):
            entries = [e for e in self.lookup(acronym) if e.chunk_id in by_chunk]
            expansions: dict[str, list[GlossaryEntry]] = {}
            for entry in entries:
                expansions.setdefault(fold_accents(entry.expansion), []).append(entry)
            for same in expansions.values():
                cites = "".join(f"[{by_chunk[e.chunk_id]}]" for e in same)
                where = f" ({same[0].title})" if len(expansions) > 1 else ""
                lines.append(f"{same[0].acronym}{where}: {same[0].expansion}. {cites}")
        return lines
