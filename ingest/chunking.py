"""Chunking that follows the documents' structure: sections, service cards, glossaries, tables.

Paragraphs (and table rows) are the atomic units: a chunk never cuts one, except a prose paragraph
longer than a whole chunk, which is cut between sentences.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from ingest.cleaning import clean_page, running_headers
from ingest.loaders import LoadedDocument
from ingest.structure import facts_of
from retrieval.contract import Chunk
from retrieval.glossary import GLOSSARY_SECTION
from retrieval.text import count_words, split_sentences

MAX_WORDS = 350  # chunks are filled up to this; a ficha or a table kept whole may be longer
CAPTION_LEVEL = 9  # "Tabla 4: …" sits below every numbered heading
GLOSSARY_MAX_WORDS = 120

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BOLD_LINE = re.compile(r"^\*\*([^*]{3,80})\*\*$")  # "**OBJETIVO PRIORITARIO 3**" heads a page
BOLD_HEADING_LEVEL = 6
_NUMBERED_KIND = re.compile(r"^(\D+?)\s*\d{1,2}$")  # "objetivo prioritario 3", not "… al 2040"
_NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+([A-ZÁÉÍÓÚÑ¿].*)$")
_CAPTION = re.compile(
    r"^(Tabla|Cuadro|Gráfico|Figura|Ilustración|Anexo)\s*N?°?\s*\d+", re.IGNORECASE
)
_YEARS_ROW = re.compile(r"^(?:[A-Za-zñÑ]+\t)?((?:19|20)\d\d(?:[\t ]+(?:19|20)\d\d)+)$")
_CARD_START = re.compile(r"^(?:FICHA TÉCNICA|Ficha técnica)", re.IGNORECASE)
_CARD_NAMES = [  # an indicator card names its indicator; a service card, its service
    re.compile(rf"^Nombre del {what}:?\t\s*(\S.*)$", re.MULTILINE)
    for what in ("indicador", "servicio")
]
_FICHA_START = re.compile(r"^FICHA DE SERVICIOS?\b")
_FICHA_FIELDS = (
    "Elemento", "Objetivo prioritario", "Lineamiento", "Nombre del servicio", "Tipo de servicio",
    "Naturaleza del servicio", "Entrega del servicio", "Descripción del servicio",
    "Proveedor del servicio", "Nivel", "Receptor del servicio", "Alcance del servicio",
    "Estándares de cumplimiento", "Descripción del estándar", "Indicador de calidad",
    "Indicador de cobertura",
)  # fmt: skip


@dataclass
class Paragraph:
    text: str
    page: int | None
    page_label: str | None
    atomic: bool = False  # a service card or a table kept whole

    @property
    def words(self) -> int:
        return count_words(self.text)


@dataclass
class Section:
    path: list[str] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    columns: str | None = None  # years heading the current table, e.g. "2018\t2021\t2025"
    card: str | None = None  # name of the indicator or service card being read

    def note_columns(self, text: str) -> None:
        for line in text.split("\n"):
            if match := _YEARS_ROW.match(line):
                self.columns = "\t".join(match.group(1).split())

    def enter(self, level: int, title: str) -> None:
        self.columns = None
        self.card = None
        # "## OBJETIVO PRIORITARIO 2" after "#### OBJETIVO PRIORITARIO 1": the same kind of heading
        # is a sibling, whatever markup the extraction gave it.
        level = next(
            (lv for lv, t in zip(self.levels, self.path, strict=True) if _siblings(t, title)),
            level,
        )
        while self.levels and self.levels[-1] >= level:
            self.levels.pop()
            self.path.pop()
        self.levels.append(level)
        self.path.append(title)

    def label(self) -> str | None:
        """The section path, plus the card's name so every piece of a card says what it is about."""
        return self.label_for(self.card)

    def label_for(self, card: str | None) -> str | None:
        return " > ".join(self.path + ([card] if card else [])) or None


def paragraphs_of(document: LoadedDocument) -> list[Paragraph]:
    """Cleaned paragraphs of every page, with their page numbers."""
    pages = [p.text for p in document.pages]
    headers = running_headers(pages) if document.fmt != "md" else set()
    return [
        Paragraph(text, page.number, page.label)
        for page in document.pages
        for text in clean_page(page.text, headers)
    ]


def heading_of(
    text: str, fmt: str, repeated: frozenset[str] = frozenset()
) -> tuple[int, str] | None:
    """(level, title) when a paragraph is a heading, else None.

    In text extracted from PDFs, upper-case lines that repeat are table column headers, not headings.
    """
    if "\n" in text or "...." in text or "…" in text:
        return None
    if fmt == "md":
        match = _MD_HEADING.match(text)
        if match:
            return len(match.group(1)), match.group(2).replace("**", "").strip()
        match = _BOLD_LINE.match(text)
        if match and _mostly_upper(match.group(1)) and not match.group(1).endswith(":"):
            return BOLD_HEADING_LEVEL, match.group(1).strip()
        return None
    if _CAPTION.match(text) and count_words(text) <= 25:
        return CAPTION_LEVEL, text
    if count_words(text) > 14 or text.endswith((".", ",", ";")):
        return None
    match = _NUMBERED_HEADING.match(text)
    if match:
        return match.group(1).count(".") + 1, text
    if _mostly_upper(text) and text not in repeated:
        return 1, text
    return None


def _mostly_upper(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 6 and sum(c.isupper() for c in letters) / len(letters) > 0.85


def _siblings(earlier: str, title: str) -> bool:
    """Numbered instances of one kind of heading ("OBJETIVO PRIORITARIO 2", "… 3")."""
    a, b = (_NUMBERED_KIND.match(t.casefold().strip()) for t in (earlier, title))
    return a is not None and b is not None and a.group(1) == b.group(1)


def _is_ficha_row(text: str) -> bool:
    return text.startswith(_FICHA_FIELDS)


def chunk_document(
    document: LoadedDocument,
    version: str,
    doc_id: str,
    title: str,
    kind: str,
    year: int | None,
    region: str | None,
) -> list[Chunk]:
    """Structure-aware chunks of a loaded document, ready to embed."""
    pieces = list(_pieces(paragraphs_of(document), document.fmt))
    texts = ["\n".join(p.text for p in group) for _, group in pieces]
    return [
        Chunk(
            chunk_id=f"{doc_id}-{version}-{ordinal:04d}",
            doc_id=doc_id,
            text=text,
            title=title,
            kind=kind,
            year=year,
            region=region,
            page=group[0].page,
            page_label=group[0].page_label,
            section=section.label,
            doc_version=version,
            ordinal=ordinal,
            columns=section.columns,
            facts=_facts_json(text, section),
        )
        for ordinal, ((section, group), text) in enumerate(zip(pieces, texts, strict=True))
    ]


def _facts_json(text: str, place: Place) -> str | None:
    facts = facts_of(text, place.columns, place.card)
    return facts.to_json() if facts else None


@dataclass(frozen=True)
class Place:
    """Where a chunk sits: its section path and the years heading its table rows."""

    label: str | None
    columns: str | None
    card: str | None = None  # the indicator or service card the chunk belongs to


def _pieces(paragraphs: list[Paragraph], fmt: str) -> Iterator[tuple[Place, list[Paragraph]]]:
    """Group paragraphs into (place, paragraphs) chunks."""
    counts = Counter(p.text for p in paragraphs)
    repeated = frozenset(text for text, n in counts.items() if n > 1)
    section = Section()
    current: list[Paragraph] = []
    index = 0
    after_caption = False
    while index < len(paragraphs):
        para = paragraphs[index]
        heading = heading_of(para.text, fmt, repeated)
        if heading and after_caption and heading[0] == 1 and not _NUMBERED_HEADING.match(para.text):
            heading = None  # an upper-case row right under "Tabla 4: …" is its column header
        after_caption = bool(heading) and heading[0] == CAPTION_LEVEL
        if heading and _CARD_START.match(heading[1]):
            # "### Ficha técnica del indicador" repeats a card's title where it continues on the
            # next page: the card goes on (its name with it) until the next card names another.
            yield from _flush(section, current)
            current = []
            section.columns = None
            index += 1
            continue
        # A card opens with "FICHA DE SERVICIO", as a line or as a heading ("## FICHA DE SERVICIOS").
        opening = heading[1] if heading else para.text
        if _FICHA_START.match(opening) and _opens_ficha(paragraphs, index):
            yield from _flush(section, current)
            card, index = _take_ficha(paragraphs, index, opening)
            yield Place(section.label_for(card_name(card.text)), None), [card]
            current = []
            continue
        if heading:
            yield from _flush(section, current)
            current = []
            section.enter(*heading)
            index += 1
            continue
        if _CARD_START.match(para.text):
            yield from _flush(section, current)
            current = []
            section.columns = None
        if name := card_name(para.text):
            section.card = name
        section.note_columns(para.text)
        limit = GLOSSARY_MAX_WORDS if GLOSSARY_SECTION.search(section.label() or "") else MAX_WORDS
        for part in _split_long(para, limit):
            size = sum(p.words for p in current)
            new_page = fmt == "pdf" and current and current[-1].page != part.page
            if current and (size + part.words > limit or new_page) and not _introduces(current[-1]):
                yield from _flush(section, current)
                current = []
            current.append(part)
        index += 1
    yield from _flush(section, current)


def card_name(text: str) -> str | None:
    """The indicator's (else the service's) name on a card, for every chunk of that card."""
    for pattern in _CARD_NAMES:
        if match := pattern.search(text):
            return match.group(1).replace("**", "").strip()[:160]
    return None


def _introduces(para: Paragraph) -> bool:
    """A paragraph ending in a colon ("- **Costo logístico:**") belongs with what follows it."""
    return para.text.rstrip("* ").endswith(":")


def _flush(section: Section, current: list[Paragraph]) -> Iterator[tuple[Place, list[Paragraph]]]:
    if current:
        yield Place(section.label(), section.columns, section.card), list(current)


def _opens_ficha(paragraphs: list[Paragraph], start: int) -> bool:
    """The opening holds the card's rows, or they follow it (a heading alone is not a card)."""
    if "\n" in paragraphs[start].text:
        return True
    return start + 1 < len(paragraphs) and _is_ficha_row(paragraphs[start + 1].text)


def _take_ficha(paragraphs: list[Paragraph], start: int, opening: str) -> tuple[Paragraph, int]:
    """One service card ("FICHA DE SERVICIO" and its rows) as a single atomic paragraph."""
    first = paragraphs[start]
    texts = [opening]
    index = start + 1
    while index < len(paragraphs) and _is_ficha_row(paragraphs[index].text):
        texts.append(paragraphs[index].text)
        index += 1
    return Paragraph("\n".join(texts), first.page, first.page_label, atomic=True), index


def _split_long(para: Paragraph, limit: int) -> list[Paragraph]:
    """A paragraph longer than a chunk, cut between rows or sentences; atomic ones stay whole."""
    if para.atomic or para.words <= limit:
        return [para]
    units = para.text.split("\n") if "\n" in para.text else split_sentences(para.text)
    parts: list[list[str]] = [[]]
    for unit in units:
        if parts[-1] and count_words(" ".join(parts[-1])) + count_words(unit) > limit:
            parts.append([])
        parts[-1].append(unit)
    joiner = "\n" if "\n" in para.text else " "
    return [Paragraph(joiner.join(p), para.page, para.page_label) for p in parts if p]
