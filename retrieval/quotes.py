"""Shaping a unit: a list with its items, table values labelled with their years."""

from __future__ import annotations

import re

from retrieval.query import QuestionType
from retrieval.text import first_words

MAX_QUOTE_CHARS = 280
_SHORT_CELL = 120
LIST_ITEMS = 6
LIST_INTRO_WORDS = 25
LIST_ITEM_WORDS = 8
_VALUE = re.compile(r"-|\d[\d .,/]*%?")
_VALUES_AT_END = re.compile(r"(?:\s(?:-|\d[\d.,]*%?)){2,}$")


def extend_row(units: list[str], i: int, kind: QuestionType) -> str:
    """A unit plus the short cells that follow it in a flattened table row.

    For amounts: up to the first cell holding values ('N° de productores capacitados. 20 60 80').
    For 'who': the involved entities, commitment and direct responsible that follow an action.
    """
    text = units[i]
    if text.endswith(":"):  # "estos medios son:" — the list that follows is the answer
        items = [head for unit in _list_units(units[i + 1 :]) for head in _list_items(unit)]
        if not items:
            return text
        intro = text.split()
        intro_text = " ".join(
            intro[-LIST_INTRO_WORDS:]
        )  # what introduces the list, right before it
        prefix = "… " if len(intro) > LIST_INTRO_WORDS else ""
        listed = "; ".join(items[:LIST_ITEMS])
        return f"{prefix}{intro_text} {listed}{'' if listed.endswith('…') else '.'}"
    steps = {QuestionType.TARGET: 2, QuestionType.RESPONSIBLE: 6}.get(kind, 1)
    budget = MAX_QUOTE_CHARS + (100 if kind is QuestionType.RESPONSIBLE else 0)
    for following in units[i + 1 : i + 1 + steps]:
        if len(following) >= _SHORT_CELL or len(text) + len(following) > budget:
            break
        if kind is QuestionType.TARGET and _VALUES_AT_END.search(text):
            break
        if kind not in (QuestionType.TARGET, QuestionType.RESPONSIBLE) and len(text) >= 60:
            break
        text = f"{text} {following}"
    return text


def _list_units(units: list[str]) -> list[str]:
    """The units a list is made of: up to the next list's introduction, or to the item that
    closes with a period a list whose items ended in commas or semicolons."""
    taken: list[str] = []
    for unit in units[:LIST_ITEMS]:
        if unit.endswith(":"):
            break
        taken.append(unit)
        if unit.endswith(".") and taken[0].endswith((",", ";")):
            break
    return taken


def _list_items(unit: str) -> list[str]:
    """The items of a list line, each named by its first clause ("Las concesiones, que se
    otorgan…" -> "Las concesiones"); "…; y La licencia…" holds two items."""
    items = []
    for item in re.split(r";\s*(?:y\s+)?", unit.strip().rstrip(",;.")):
        clause = item.split(",", 1)[0].strip()
        named = clause if len(clause.split()) >= 2 else item.strip()
        if named:
            items.append(first_words(named, LIST_ITEM_WORDS))
    return items


def label_values(text: str, years: list[str], asked: set[str]) -> str:
    """'N° de proyectos adjudicados. 2 5 6' -> '… (2018: 2; 2021: 5; 2025: 6)'.

    Table cells are tab-separated when the extraction kept them; otherwise the trailing values of
    the row are matched one per year. Long series keep the baseline, the asked years and the last.
    """
    if "\t" in text:
        cells = text.split("\t")
        label, values = " ".join(cells[: len(cells) - len(years)]), cells[len(cells) - len(years) :]
    else:
        tokens = text.split()
        label, values = " ".join(tokens[: -len(years)]), tokens[-len(years) :]
    if len(values) != len(years) or not all(_VALUE.fullmatch(v.strip()) for v in values):
        return text
    if [v.strip() for v in values] == years:
        return text  # the heading row itself
    pairs = list(zip(years, (v.strip() for v in values), strict=True))
    if len(pairs) > 4:
        pairs = [p for i, p in enumerate(pairs) if i in (0, len(pairs) - 1) or p[0] in asked]
    return f"{label.strip()} ({'; '.join(f'{y}: {v}' for y, v in pairs)})"
