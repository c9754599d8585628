"""Answer units: the sentences, table rows, card fields, list items and facts an answer is made of.

Cut once at ingestion from each chunk and stored with it (text, kind and e5 vector), so answering
only scores them. Every unit is cleaned for reading on a phone: no tabs, no markup, no broken rows.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np
from pydantic import BaseModel, ConfigDict

from retrieval.contract import Facts
from retrieval.quotes import label_values, list_with_items
from retrieval.text import collapse_whitespace, split_sentences

MIN_UNIT_CHARS = 80  # shorter pieces (a table cell, a label) are read with the pieces that follow
MAX_UNIT_CHARS = 450  # longer sentences are cut at their clauses
_MARKUP = re.compile(r"\*{1,3}|^#+\s*|^[-•]\s+|</?[a-zA-Z][^<>]{0,80}>")
# A card's label cell: "Proveedor del servicio\tResponsable: …". Not a word the extraction cut
# from its sentence with a tab ("En\ttal sentido", "las\tcadenas"): a label is capitalised,
# ends in no punctuation, and its value does not go on in lower case.
_LABEL_CELL = re.compile(r"^[A-ZÁÉÍÓÚÑ“\"(][^\t\d]{1,59}(?<![,;.])\t(?![a-záéíóúñ])")
_RULE = re.compile(r"(?<!\S)(?:[-:|]{2,}|\|)(?!\S)")  # table borders, footnote rules: "---", "|"
_SEMICOLON = re.compile(r"(?<=;)\s+")
_COMMA = re.compile(r"(?<=,)\s+")


class Unit(BaseModel):
    """One piece an answer is made of: a sentence, a row, a card field, a list with its items."""

    model_config = ConfigDict(frozen=True)

    text: str
    kind: str  # "sentence", "list" (an introduction with its items) or "fact" (from a card/table)
    position: int  # order in the chunk (facts come first)


def clean_unit(text: str) -> str:
    """One line of readable text: markup and tabs gone, whitespace collapsed."""
    lines = []
    for line in text.split("\n"):
        line = _LABEL_CELL.sub(lambda m: m.group(0).rstrip("\t") + ": ", line.strip())
        lines.append(_MARKUP.sub("", line.replace("\t", " ").strip()))
    return collapse_whitespace(_RULE.sub(" ", " ".join(lines))).replace("\\$", "$")


def cut_units(text: str, facts: Facts | None = None, columns: str | None = None) -> list[Unit]:
    """The units of a chunk: its facts, then its sentences and rows in order (short cells merged
    with what follows, long sentences cut at clauses, a list's introduction with its items)."""
    pieces = split_sentences(text)
    years = columns.split("\t") if columns else []
    texts: list[tuple[str, str]] = [(t, "fact") for t in fact_texts(facts or Facts())]
    buffer = ""
    for i, piece in enumerate(pieces):
        if years:
            piece = label_values(piece, years, set(years))
        if piece.endswith(":"):
            listed = list_with_items(pieces, i, MAX_UNIT_CHARS)
            if listed != piece:  # the introduction is read with its items, not alone
                texts.append((f"{buffer} {listed}".strip(), "list"))
                buffer = ""
                continue
        buffer = f"{buffer} {piece}".strip() if buffer else piece
        if len(clean_unit(buffer)) >= MIN_UNIT_CHARS or buffer.endswith(":"):
            texts += [(part, "sentence") for part in _clauses(buffer)]
            buffer = ""
    if buffer:
        texts += [(part, "sentence") for part in _clauses(buffer)]
    units: list[Unit] = []
    seen: set[str] = set()
    for raw, kind in texts:
        cleaned = clean_unit(raw)
        if len(cleaned) >= 3 and cleaned not in seen:
            seen.add(cleaned)
            units.append(Unit(text=cleaned, kind=kind, position=len(units)))
    return units


def _clauses(text: str) -> list[str]:
    """A long sentence as parts of at most MAX_UNIT_CHARS, cut at semicolons, and at commas only
    where a part between semicolons is still too long (a name may hold a comma)."""
    if len(text) <= MAX_UNIT_CHARS:
        return [text]
    parts: list[str] = []
    for piece in _pack(_SEMICOLON.split(text)):
        parts += _pack(_COMMA.split(piece)) if len(piece) > MAX_UNIT_CHARS else [piece]
    return parts


def _pack(clauses: list[str]) -> list[str]:
    """Consecutive clauses joined while they fit in MAX_UNIT_CHARS."""
    parts, current = [], ""
    for clause in clauses:
        if current and len(current) + len(clause) + 1 > MAX_UNIT_CHARS:
            parts.append(current)
            current = clause
        else:
            current = f"{current} {clause}".strip()
    return [*parts, current] if current else parts


def fact_texts(facts: Facts) -> list[str]:
    """Readable statements of the structure read at ingestion; every name and figure copied."""
    texts = []
    service = facts.servicio
    if service is not None and service.responsible:
        text = f"Responsable: {service.responsible.rstrip('.')}"
        if service.participants:
            text += f"; con participación de: {', '.join(service.participants)}"
        texts.append(f"{text} (servicio {service.name.rstrip('.')}).")
    for row in facts.objetivos or []:
        objective = row.objective.rstrip(".")
        if row.responsible:
            texts.append(
                f"Responsable del {row.code} ({objective}): {row.responsible.rstrip('.')}."
            )
        baseline, expected = row.baseline or [], row.expected or []
        if baseline and len(row.indicators) == len(baseline) == len(expected):
            for name, base, target in zip(row.indicators, baseline, expected, strict=True):
                texts.append(
                    f"{row.code}, {name.rstrip('.')}: línea de base {base}; logro esperado {target}."
                )
    if indicator := facts.indicador:
        for values in indicator.values:
            texts.append(
                f"{indicator.name.rstrip('.')} ({values.unit}): línea de base "
                f"{values.baseline}; logro esperado {'; '.join(values.expected)}."
            )
    return texts


def units_json(units: list[Unit]) -> str:
    return json.dumps([[u.text, u.kind] for u in units], ensure_ascii=False)


def units_from_json(data: str | None) -> list[Unit]:
    pairs = enumerate(json.loads(data or "[]"))
    return [Unit(text=text, kind=kind, position=i) for i, (text, kind) in pairs]


def encode_vectors(vectors: np.ndarray) -> str:
    """float16 rows as base64 (Chroma metadata holds scalars only)."""
    return base64.b64encode(np.asarray(vectors, dtype="<f2").tobytes()).decode("ascii")


def decode_vectors(data: str | None, rows: int) -> np.ndarray:
    """The `rows` vectors stored by `encode_vectors` (none when absent or not `rows` of them)."""
    raw = np.frombuffer(base64.b64decode(data), dtype="<f2") if data else np.zeros(0, "<f2")
    if rows == 0 or raw.size % rows:
        return np.zeros((0, 0), dtype=np.float32)
    return raw.reshape(rows, -1).astype(np.float32)
