"""Structure read at ingestion from text shaped like the PNMCE: service cards, the OP table,
indicator cards' values; and the chunks that carry it."""

import json
from pathlib import Path

from ingest.chunking import chunk_document
from ingest.loaders import load_document
from ingest.structure import indicator_values, objective_rows, service_card
from retrieval.contract import IndicatorValues

SERVICE_CARD = (Path(__file__).parents[1] / "fixtures" / "service-card.txt").read_text(
    encoding="utf-8"
)

OP_TABLE = "\n".join(
    [
        "Cód.\tObjetivo prioritario\tResponsable del objetivo\tIndicador del objetivo\tLínea de base (valor y año)\tLogro esperado (valor y año)\tLineamiento",
        "OP4\tIncrementar la participación de las empresas de las ZEE\tMINCETUR\tPorcentaje de participación de las exportaciones de las ZEE.\tAño: 2024 Valor: 0,12%\tAño: 2040 Valor: 0,32%\tL4.1: Incentivar la participación.",
        "OP5\tFortalecer los entornos colaborativos\tMINCETUR\t1. Número de empresas exportadoras consolidadas.\tAño: 2024 Valor: 3318\tAño: 2040 Valor: 4180\tL5.1: Potenciar la transformación digital.",
        "2. Valor de las exportaciones totales realizadas por Mipyme\tAño: 2024 Valor: 3273 (US\\$ millones)\tAño: 2040 Valor: 6050 (US\\$ millones)\tL5.2: Fortalecer los niveles de conocimiento.",
        "L5.3: Fortalecer la articulación público-privada.",
    ]
)


def test_service_card_fields_with_the_provider_split_into_responsible_and_participants():
    card = service_card(SERVICE_CARD)
    assert card.code == "S5.2.1"
    assert card.objective_code == "OP5"
    assert card.guideline.startswith("L.5.2:")
    assert card.responsible == "MINCETUR"
    assert card.participants == ["AGROMERCADO", "INACAL", "INDECOPI"]
    assert card.receiver == "Empresas exportadoras y con potencial exportador."
    assert card.quality_indicator == "Porcentaje de capacitaciones idóneas."
    assert card.coverage_indicator == "Número de capacitaciones realizadas."
    assert service_card("Texto que no es una ficha.") is None


def test_a_provider_without_the_responsible_label_is_the_responsible():
    card = service_card(
        SERVICE_CARD.replace(
            "Responsable: MINCETUR Con participación de: AGROMERCADO, INACAL, INDECOPI",
            "MININTER- PNP DIRANDRO.",
        )
    )
    assert card.responsible == "MININTER- PNP DIRANDRO"
    assert "participants" not in card


def test_objective_rows_pair_each_indicator_with_its_baseline_and_target():
    op4, op5 = objective_rows(OP_TABLE)
    assert (op4.code, op4.responsible) == ("OP4", "MINCETUR")
    assert op4.baseline == ["2024: 0,12%"] and op4.expected == ["2040: 0,32%"]
    # The second indicator spilled into the next line: it is folded back into OP5.
    assert op5.indicators == [
        "Número de empresas exportadoras consolidadas.",
        "Valor de las exportaciones totales realizadas por Mipyme",
    ]
    assert op5.baseline == ["2024: 3318", "2024: 3273 (US\\$ millones)"]
    assert op5.expected == ["2040: 4180", "2040: 6050 (US\\$ millones)"]


def test_values_that_do_not_pair_with_indicators_are_dropped_not_guessed():
    table = OP_TABLE.replace(
        "\tAño: 2024 Valor: 3273 (US\\$ millones)\tAño: 2040 Valor: 6050 (US\\$ millones)", ""
    )
    op5 = objective_rows(table)[1]
    assert len(op5.indicators) == 2
    assert "baseline" not in op5 and "expected" not in op5


def test_indicator_values_by_year_and_unit():
    text = "Línea de base\tLogros esperados\nAño\t2024\t2030\t2040\nValor relativo\t60%\t80%\t95%\nValor absoluto\t67/112\t100/126\t142/150"
    relative, absolute = indicator_values(text, "2024\t2030\t2040")
    assert relative == IndicatorValues(
        unit="Valor relativo", baseline="2024: 60%", expected=["2030: 80%", "2040: 95%"]
    )
    assert absolute.expected[-1] == "2040: 142/150"
    spilled = "Valor absoluto\t67/112\t100/126"  # a cell short: no pairing is invented
    assert indicator_values(spilled, "2024\t2030\t2040") == []


def test_chunks_carry_the_facts_of_their_card(tmp_path):
    text = (
        "## 7.5.1. Fichas técnicas\n\n#### OBJETIVO PRIORITARIO 3\n\nFicha técnica del indicador\t\n"
        "<b>Nombre del indicador:</b>\t<b>Valor total de las exportaciones de servicios no tradicionales</b>\n\n"
        "### Ficha técnica del indicador\n\nAño\t2024\t2030\t2040\n"
        "Valor absoluto (US\\$ millones)\t1 131\t1 926\t3 320\n\n"
        f"## 4.3. Servicios\n\n{SERVICE_CARD}\n"
    )
    path = tmp_path / "politica.md"
    path.write_text(text, encoding="utf-8")
    chunks = chunk_document(load_document(path), "v1", "politica", "Política", "pnmce", 2024, None)
    facts = [json.loads(c.facts) for c in chunks if c.facts]
    indicator = next(f["indicador"] for f in facts if "indicador" in f)
    assert indicator["name"] == "Valor total de las exportaciones de servicios no tradicionales"
    assert indicator["values"][0]["expected"][-1] == "2040: 3 320"
    service = next(f["servicio"] for f in facts if "servicio" in f)
    assert service["code"] == "S5.2.1" and service["responsible"] == "MINCETUR"
