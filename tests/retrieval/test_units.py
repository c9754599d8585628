"""The unit cutter: what an answer is made of, cleaned for reading."""

import numpy as np

from retrieval.contract import Facts, ObjectiveRow
from retrieval.units import (
    clean_unit,
    cut_units,
    decode_vectors,
    encode_vectors,
    fact_texts,
    units_from_json,
    units_json,
)


def test_card_fields_become_labelled_units_without_tabs():
    text = (
        "FICHA DE SERVICIO\n"
        "Nombre del servicio\tS9.9.9 Asistencia de prueba para exportadores de la región.\n"
        "Proveedor del servicio\tResponsable: Ministerio de Pruebas (MIPRU) Con participación de: "
        "Gobiernos regionales"
    )
    texts = [u.text for u in cut_units(text)]
    assert any(
        t.endswith(
            "Nombre del servicio: S9.9.9 Asistencia de prueba para exportadores de la región."
        )
        for t in texts
    )
    assert any(
        t.startswith("Proveedor del servicio: Responsable: Ministerio de Pruebas") for t in texts
    )
    assert not any("\t" in t for t in texts)


def test_a_word_cut_from_its_sentence_by_a_tab_is_no_label():
    text = "En\ttal sentido, las asociaciones\tse fortalecen.\nlas\tcadenas productivas crecen."
    assert [u.text for u in cut_units(text)] == [
        "En tal sentido, las asociaciones se fortalecen. las cadenas productivas crecen."
    ]
    assert clean_unit("Finalmente,\tpara exportar") == "Finalmente, para exportar"
    assert clean_unit("Tipo de servicio\tNuevo") == "Tipo de servicio: Nuevo"


def test_short_cells_are_read_with_what_follows():
    text = "Pesca.\nN° de proyectos por año.\n2 4 2\nGEREPRO, Municipalidad Provincial de Ilo, CITE Pesquero."
    [unit] = cut_units(text)
    assert unit.text.startswith("Pesca. N° de proyectos por año. 2 4 2 GEREPRO")


def test_long_sentences_are_cut_at_clauses_and_nothing_is_lost():
    clause = "la región {} promueve la asociatividad de los productores de orégano y de palta"
    text = "; ".join(clause.format(i) for i in range(12)) + "."
    units = cut_units(text)
    assert len(units) > 1 and all(len(u.text) <= 400 for u in units)
    assert sum(u.text.count("asociatividad") for u in units) == 12


def test_a_list_introduction_gets_a_unit_with_its_items():
    text = (
        "Los instrumentos de apoyo a los productores agrarios son los siguientes:\n"
        "- AGROIDEAS, que cofinancia planes de negocio;\n"
        "- PROCOMPITE, que cofinancia propuestas productivas."
    )
    units = cut_units(text)
    listed = [u for u in units if u.kind == "list"]
    assert listed and "AGROIDEAS" in listed[0].text and "PROCOMPITE" in listed[0].text
    assert not any(u.text.startswith("-") for u in units)
    # The introduction is read with its items, not quoted alone; each item is still a unit.
    assert [u.text for u in units if "siguientes" in u.text] == [listed[0].text]
    assert any(u.text.startswith("AGROIDEAS, que cofinancia") for u in units)


def test_table_values_are_labelled_with_their_years():
    units = cut_units(
        "N° de productores capacitados en secado de orégano. 20 60 80", columns="2018\t2021\t2025"
    )
    assert "(2018: 20; 2021: 60; 2025: 80)" in units[0].text


def test_facts_lead_with_the_responsible_and_copy_figures():
    facts = Facts.model_validate(
        {
            "servicio": {
                "name": "S1.2.3 Servicio de prueba.",
                "responsible": "MTC",
                "participants": ["A", "B"],
            },
            "indicador": {
                "name": "Valor exportado.",
                "values": [
                    {
                        "unit": "Valor absoluto",
                        "baseline": "2024: 23237",
                        "expected": ["2026: 24 853"],
                    }
                ],
            },
        }
    )
    texts = fact_texts(facts)
    assert (
        texts[0]
        == "Responsable: MTC; con participación de: A, B (servicio S1.2.3 Servicio de prueba)."
    )
    assert (
        texts[1]
        == "Valor exportado (Valor absoluto): línea de base 2024: 23237; logro esperado 2026: 24 853."
    )
    assert [u.kind for u in cut_units("Texto de la ficha con varias palabras.", facts)][:2] == [
        "fact",
        "fact",
    ]


def test_markup_and_escapes_are_cleaned():
    assert (
        clean_unit("**Exportaciones** de US\\$ 17 534\t millones")
        == "Exportaciones de US$ 17 534 millones"
    )
    assert clean_unit("A la fecha, ---\n| --- | -: |") == "A la fecha,"
    assert clean_unit("Tasa -2,5 % en 2019-2020") == "Tasa -2,5 % en 2019-2020"  # signs stay


def test_units_and_vectors_round_trip():
    units = cut_units(
        "Primera oración con suficientes palabras para ser una unidad de respuesta completa. "
        "Segunda oración, también larga, para que la unidad no se junte con la primera."
    )
    assert [u.text for u in units_from_json(units_json(units))] == [u.text for u in units]
    vectors = np.random.default_rng(0).normal(size=(len(units), 8)).astype(np.float32)
    back = decode_vectors(encode_vectors(vectors), len(units))
    assert back.shape == vectors.shape and np.allclose(back, vectors, atol=1e-2)
    assert decode_vectors(None, 2).size == 0


def test_an_objective_is_named_whole_in_its_responsible_fact():
    objective = (
        "Incrementar la participación de las empresas exportadoras de la región en los mercados "
        "internacionales con productos de mayor valor agregado"
    )
    row = ObjectiveRow(
        code="OP9", objective=objective, responsible="Dirección de Pruebas", indicators=[]
    )
    (text,) = fact_texts(Facts(objetivos=[row]))
    assert text == f"Responsable del OP9 ({objective}): Dirección de Pruebas."
