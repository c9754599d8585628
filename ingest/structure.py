"""Structure read from the documents' cards and tables at ingestion, kept with each chunk as facts.

- A PNMCE service card ("FICHA DE SERVICIO"): code, name, objective, guideline, the responsible
  provider and the participants, receiver, scope, quality and coverage indicators.
- The priority-objectives table (OP1–OP5): objective, responsible entity, indicators, baselines
  and expected values.
- An indicator card's values: the baseline and the expected value of each year.

Every value is copied from the text as written; a row that does not parse cleanly gives no facts
(the chunk's text still answers).
"""

from __future__ import annotations

import re

from retrieval.contract import Facts, IndicatorCard, IndicatorValues, ObjectiveRow, ServiceCard

SERVICE_FIELDS = {
    "Objetivo prioritario": "objective",
    "Lineamiento": "guideline",
    "Nombre del servicio": "name",
    "Descripción del servicio": "description",
    "Proveedor del servicio": "provider",
    "Receptor del servicio": "receiver",
    "Alcance del servicio": "scope",
    "Indicador de calidad": "quality_indicator",
    "Indicador de cobertura": "coverage_indicator",
}
_SERVICE_CODE = re.compile(r"^S\.?\d+(?:\.\d+)+")
_OBJECTIVE_CODE = re.compile(r"^OP\s?\d")
_PROVIDER = re.compile(
    r"Responsable\s*:\s*(?P<responsible>.+?)\s*(?:Con participación de\s*:\s*(?P<others>.+))?$"
)
_OBJECTIVE_ROW = re.compile(r"^(OP\d)\t")
_YEAR_VALUE = re.compile(r"Año:?\s*((?:19|20)\d\d)\s*Valor:\s*(.+?)(?=\s*Año:|$)")
_NUMBERED_ITEM = re.compile(r"(?:^|\s)\d\.\s+")
_VALUE_ROW = re.compile(r"^Valor\s+(absoluto|relativo)\b")


def service_card(text: str) -> ServiceCard | None:
    """The fields of a service card, with its provider split into responsible and participants."""
    if not text.startswith("FICHA DE SERVICIO"):
        return None
    facts: dict = {"type": "servicio"}
    for line in text.split("\n"):
        label, _, value = line.partition("\t")
        key = SERVICE_FIELDS.get(label.strip())
        if key and value.strip() and key not in facts:
            facts[key] = " ".join(value.split())
    name = facts.get("name", "")
    if code := _SERVICE_CODE.match(name):
        facts["code"] = code.group(0)
    if code := _OBJECTIVE_CODE.match(facts.get("objective", "")):
        facts["objective_code"] = code.group(0).replace(" ", "")
    provider = facts.get("provider", "")
    if match := _PROVIDER.search(provider):
        facts["responsible"] = match.group("responsible").rstrip(". ")
        if others := match.group("others"):
            facts["participants"] = [p.strip(" .") for p in others.split(",") if p.strip(" .")]
    elif provider:
        facts["responsible"] = provider.rstrip(". ")
    facts.pop("description", None)  # the text itself quotes it; facts hold the short fields
    return ServiceCard(**facts) if "name" in facts else None


def objective_rows(text: str) -> list[ObjectiveRow]:
    """Rows of the priority-objectives table: 'OP3<TAB>objective<TAB>responsible<TAB>indicators<TAB>
    baseline<TAB>expected<TAB>…', with the lines a row spills into (a second indicator and its
    values on the next line) folded back into it."""
    rows: list[dict] = []
    for line in text.split("\n"):
        cells = [" ".join(c.split()) for c in line.split("\t") if c.strip()]
        if _OBJECTIVE_ROW.match(line) and len(cells) >= 4:
            row: dict = {"code": cells[0], "objective": cells[1], "responsible": cells[2]}
            row["indicators"] = [i.strip() for i in _NUMBERED_ITEM.split(cells[3]) if i.strip()]
            rows.append(row)
            _add_values(row, cells[4:])
        elif rows and cells:
            _continue_row(rows[-1], cells)
    for row in rows:  # values that do not pair one to one with indicators are not kept
        if len(row.get("baseline", [])) != len(row["indicators"]) or len(
            row.get("expected", [])
        ) != len(row["indicators"]):
            row.pop("baseline", None)
            row.pop("expected", None)
    return [ObjectiveRow(**row) for row in rows]


def _add_values(row: dict, cells: list[str]) -> None:
    """'Año: 2024 Valor: 810' then 'Año: 2040 Valor: 950': one baseline and one expected value."""
    pairs = [_YEAR_VALUE.findall(c) for c in cells[:2]]
    if len(pairs) == 2 and len(pairs[0]) == len(pairs[1]) and pairs[0]:
        row.setdefault("baseline", []).extend(f"{y}: {v.strip()}" for y, v in pairs[0])
        row.setdefault("expected", []).extend(f"{y}: {v.strip()}" for y, v in pairs[1])


def _continue_row(row: dict, cells: list[str]) -> None:
    first_value = next((i for i, c in enumerate(cells) if _YEAR_VALUE.match(c)), len(cells))
    numbered = re.match(r"\d\.\s", cells[0])  # "2. Valor de las exportaciones…"
    if numbered:
        row["indicators"].append(_NUMBERED_ITEM.sub("", cells[0], count=1).strip())
    if first_value == (1 if numbered else 0):
        _add_values(row, cells[first_value:])


def indicator_values(text: str, columns: str | None) -> list[IndicatorValues]:
    """The value rows under an indicator card's year header: [{'unit': 'Valor absoluto (número)',
    'baseline': '2024: 810', 'expected': ['2026: 826', …, '2040: 950']}]."""
    years = (columns or "").split("\t")
    if len(years) < 2:
        return []
    rows = []
    for line in text.split("\n"):
        if not _VALUE_ROW.match(line):
            continue
        cells = [c.strip() for c in line.split("\t") if c.strip()]
        if len(cells) - 1 != len(years):
            continue  # cells spilled into another row: keep the chunk, invent no pairing
        pairs = [f"{y}: {v}" for y, v in zip(years, cells[1:], strict=True)]
        rows.append(IndicatorValues(unit=cells[0], baseline=pairs[0], expected=pairs[1:]))
    return rows


def facts_of(text: str, columns: str | None, card: str | None) -> Facts | None:
    """Whatever structure the chunk holds, by kind: 'servicio', 'objetivos', 'indicador'."""
    values = indicator_values(text, columns) if card else []
    facts = Facts(
        servicio=service_card(text),
        objetivos=objective_rows(text) or None,
        indicador=IndicatorCard(name=card, values=values) if values else None,
    )
    return facts if facts != Facts() else None
