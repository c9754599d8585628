"""Shaping a unit: a list with its items, table values labelled with their years."""

from __future__ import annotations

import re

LIST_ITEMS = 6
_VALUE = re.compile(r"-|\d[\d .,/]*%?")
_NUMERIC = re.compile(r"^-$|\d")  # a value, or a token with a figure in it


def list_with_items(units: list[str], i: int, max_chars: int) -> str:
    """A list's whole introduction ("estos medios son:") with the items that follow it, each
    named by its first clause, as many whole items as fit in max_chars (at least one); the
    introduction alone when no items follow. No name is cut, so nothing ends in "…"."""
    text = units[i]
    items = [head for unit in _list_units(units[i + 1 :]) for head in _list_items(unit)]
    if not text.endswith(":") or not items:
        return text
    listed = items[0]
    for item in items[1:LIST_ITEMS]:
        if len(f"{text} {listed}; {item}.") > max_chars:
            break
        listed = f"{listed}; {item}"
    return f"{text} {listed}."


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
            items.append(named)
    return items


def label_values(text: str, years: list[str], asked: set[str]) -> str:
    """'N° de proyectos adjudicados. 2 5 6' -> '… (2018: 2; 2021: 5; 2025: 6)'.

    Table cells are tab-separated when the extraction kept them (the last ones are the values);
    otherwise the values are the first run of exactly one figure per year, at the end of the row or
    before its next cells ("… 20 60 80 INIA, CITE."). Long series keep the baseline, the asked years
    and the last.
    """
    rest = ""
    if "\t" in text:
        cells = text.split("\t")
        label, values = " ".join(cells[: len(cells) - len(years)]), cells[len(cells) - len(years) :]
    else:
        tokens = text.split()
        start = _value_run(tokens, len(years))
        if start is None:
            return text
        label, values = " ".join(tokens[:start]), tokens[start : start + len(years)]
        rest = " ".join(tokens[start + len(years) :])  # the row's next cells: "CITE, SANIPES."
    if len(values) != len(years) or not all(_VALUE.fullmatch(v.strip()) for v in values):
        return text
    if [v.strip() for v in values] == years:
        return text  # the heading row itself
    pairs = list(zip(years, (v.strip() for v in values), strict=True))
    if len(pairs) > 4:
        pairs = [p for i, p in enumerate(pairs) if i in (0, len(pairs) - 1) or p[0] in asked]
    labelled = f"({'; '.join(f'{y}: {v}' for y, v in pairs)})"
    return " ".join(part for part in (label.strip(), labelled, rest) if part)


def _value_run(tokens: list[str], n: int) -> int | None:
    """Where the first run of exactly n value tokens starts. A run is cut only by words: one with
    other figures next to it ("52 155 0,6 -14,8%") is another table's row."""
    i = 0
    while i < len(tokens):
        if not _NUMERIC.search(tokens[i]):
            i += 1
            continue
        j = i
        while j < len(tokens) and _NUMERIC.search(tokens[j]):
            j += 1
        if j - i == n and all(_VALUE.fullmatch(t) for t in tokens[i:j]):
            return i
        i = j
    return None
