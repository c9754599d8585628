"""Quotes composed from the structure read at ingestion (ingest/structure.py): who provides a
service, who answers for an objective, an indicator's baseline and expected values.

Every name and figure is copied from the facts, which are copied from the text; nothing is computed.
"""

from __future__ import annotations

from collections.abc import Callable

from retrieval.contract import Source
from retrieval.query import QuestionType
from retrieval.text import first_words


def fact_quotes(
    kind: QuestionType,
    source: Source,
    asked_years: set[str],
    about: Callable[[str], float],
    wants_share: bool = False,
) -> list[str]:
    """Quotes the source's facts give for this kind of question, best first.

    `about(text)` scores how much of the question a piece of text is about (objective rows are
    many per chunk: only the ones about the question are quoted).
    """
    facts = source.facts or {}
    quotes: list[str] = []
    if kind is QuestionType.RESPONSIBLE:
        if service := facts.get("servicio"):
            quotes.append(_service_provider(service))
        rows = sorted(facts.get("objetivos", []), key=lambda r: -about(_row_text(r)))
        quotes += [
            f"{r['code']} ({r['objective'].rstrip('.')}): responsable {r['responsible'].rstrip('.')}."
            for r in rows[:1]
        ]
    elif kind is QuestionType.TARGET:
        if indicator := facts.get("indicador"):
            # "¿cuántos …?" asks for the absolute value, "¿qué porcentaje …?" for the relative one.
            values = sorted(
                indicator["values"], key=lambda v: ("relativo" in v["unit"]) != wants_share
            )
            quotes.append(_values(indicator["name"], values[0], asked_years))
        for row in facts.get("objetivos", []):
            quotes += _objective_values(row, asked_years, about)
    elif rows := facts.get("objetivos"):  # "¿cuáles son los objetivos prioritarios?"
        quotes.append(
            "; ".join(f"{r['code']}: {first_words(r['objective'].rstrip('.'), 12)}" for r in rows)
            + "."
        )
    return [q for q in quotes if q]


def _service_provider(service: dict) -> str:
    name = service.get("name", "")
    responsible = service.get("responsible")
    if not responsible:
        return ""
    text = f"{name} Responsable: {responsible.rstrip('.')}"
    if others := service.get("participants"):
        text += f"; con participación de: {', '.join(others)}"
    return f"{text}."


def _values(name: str, values: dict, asked_years: set[str]) -> str:
    expected = [v for v in values["expected"] if v.split(":")[0] in asked_years]
    expected = expected or values["expected"][-1:]
    return (
        f"{name.rstrip('.')} ({values['unit']}): línea de base {values['baseline']}; "
        f"logro esperado {'; '.join(expected)}."
    )


def _objective_values(row: dict, asked_years: set[str], about: Callable[[str], float]) -> list[str]:
    """One quote per indicator of an objective row, when baselines pair one to one with them."""
    indicators = row.get("indicators", [])
    baseline, expected = row.get("baseline", []), row.get("expected", [])
    if not baseline or len(indicators) != len(baseline):
        return []
    quotes = []
    for name, base, target in zip(indicators, baseline, expected, strict=True):
        if (
            asked_years
            and target.split(":")[0] not in asked_years
            and base.split(":")[0] not in asked_years
        ):
            continue
        quotes.append(
            (
                about(name),
                f"{row['code']}, {name.rstrip('.')}: línea de base {base}; logro esperado {target}.",
            )
        )
    quotes.sort(key=lambda q: -q[0])
    return [q for _, q in quotes[:1]]


def _row_text(row: dict) -> str:
    return " ".join([row["code"], row["objective"], *row.get("indicators", [])])
