from retrieval.contract import Source
from retrieval.glossary import Glossary
from retrieval.query import QuestionType, classify, with_codes
from retrieval.quotes import label_values, list_with_items


def test_question_types_from_informal_questions():
    assert (
        classify("quien se encarga de la certificacion organica del oregano?")
        is QuestionType.RESPONSIBLE
    )
    assert classify("que es agroideas") is QuestionType.DEFINITION
    assert classify("APPIM que significa") is QuestionType.DEFINITION
    assert classify("meta 2025 hass moquegua") is QuestionType.TARGET
    assert classify("requisitos para exportar pisco") is QuestionType.REQUIREMENT
    assert classify("fondos concursables para mypes") is QuestionType.PROGRAM
    assert classify("hola") is QuestionType.GENERAL


def test_table_values_are_labelled_with_their_years():
    years = ["2018", "2021", "2025"]
    assert label_values("N° de proyectos adjudicados. 2 5 6", years, set()) == (
        "N° de proyectos adjudicados. (2018: 2; 2021: 5; 2025: 6)"
    )
    series = "Valor absoluto\t1 131\t1 662\t3 320"
    assert label_values(series, ["2024", "2030", "2040"], set()) == (
        "Valor absoluto (2024: 1 131; 2030: 1 662; 2040: 3 320)"
    )
    assert (
        label_values("Texto sin valores al final.", years, set()) == "Texto sin valores al final."
    )


def test_values_inside_a_flattened_row_are_labelled_and_its_next_cells_kept():
    years = ["2018", "2021", "2025"]
    row = "Pesca. N° de plantas certificadas. - 10 12 APPIM, PRODUCE."
    assert label_values(row, years, set()) == (
        "Pesca. N° de plantas certificadas. (2018: -; 2021: 10; 2025: 12) APPIM, PRODUCE."
    )
    # A code before the values is not one of them.
    assert label_values("1.4 Estudios. 1 1 1 PROMPERÚ.", years, set()) == (
        "1.4 Estudios. (2018: 1; 2021: 1; 2025: 1) PROMPERÚ."
    )
    # More figures than years: another table's row, left as it is.
    other = "Pesca y acuicultura 52 155 0,6 -14,8% Extracción de petróleo"
    assert label_values(other, years, set()) == other


def source(n: int, text: str, chunk_id: str = "") -> Source:
    return Source(n=n, doc_id="doc", title="Doc", chunk_id=chunk_id or f"c{n}", text=text)


def test_misspelt_words_are_corrected_and_others_left_as_typed(service):
    corrected = service.retriever.correct("¿Cuántos productores de oregnao se capacitan en secado?")
    assert corrected == "¿Cuántos productores de oregano se capacitan en secado?"
    assert service.retriever.correct("Rotterdam flete") == "Rotterdam flete"


def test_informal_misspelt_question_still_finds_its_answer(service):
    answer = service.answer("cuantos produtores de oregnao se capasitan en secado")
    assert not answer.abstained
    assert "(2018: 20; 2021: 60; 2025: 80)" in answer.answer


def test_definitions_group_equal_expansions_and_name_documents_when_they_differ():
    from retrieval.contract import Chunk

    def glossary_chunk(doc: str, title: str, text: str) -> Chunk:
        return Chunk(
            chunk_id=f"{doc}-g", doc_id=doc, text=text, title=title, kind="x", year=None,
            region=None, page=None, page_label=None, section="Siglas", doc_version="v",
            ordinal=0,
        )  # fmt: skip

    chunks = [
        glossary_chunk(
            "perx", "PERX", "CERX Comité Regional de Exportaciones.\nGORE Gobierno Regional."
        ),
        glossary_chunk(
            "pnmce",
            "PNMCE",
            "CERX: Comités Ejecutivos Regionales Exportadores.\nGORE: Gobierno Regional.",
        ),
    ]
    sources = [source(1, chunks[0].text, "perx-g"), source(2, chunks[1].text, "pnmce-g")]
    glossary = Glossary(chunks)

    assert glossary.definition_lines("que es GORE", sources) == ["GORE: Gobierno Regional. [1][2]"]
    assert glossary.definition_lines("que significa CERX", sources) == [
        "CERX (PERX): Comité Regional de Exportaciones. [1]",
        "CERX (PNMCE): Comités Ejecutivos Regionales Exportadores. [2]",
    ]


def test_a_list_after_a_colon_is_quoted_item_by_item_up_to_its_end():
    units = [
        "Existen 4 medios que otorga el Ministerio de la Producción, estos medios son:",
        "Las concesiones, que se otorgan para la administración de la infraestructura estatal,",
        "Las autorizaciones, son necesarias para el desarrollo de la acuicultura,",
        "El permiso de pesca para las embarcaciones; y La licencia exigida para las plantas.",
        "Las instituciones públicas que intervienen en el sector son:",
    ]
    assert list_with_items(units, 0, 450) == (
        "Existen 4 medios que otorga el Ministerio de la Producción, estos medios son: "
        "Las concesiones; Las autorizaciones; El permiso de pesca para las embarcaciones; "
        "La licencia exigida para las plantas."
    )


def test_a_list_keeps_its_items_whole_and_drops_the_ones_that_do_not_fit():
    items = [
        f"• Un representante de la Cooperativa Agraria Número {n} de la Provincia;"
        for n in range(1, 7)
    ]
    units = ["El consejo de la agencia está conformado por las siguientes instituciones:", *items]
    listed = list_with_items(units, 0, 300)
    assert "…" not in listed and len(listed) <= 300
    # Whole items, in order, as many as fit: never a name cut in the middle.
    assert (
        listed.count("Un representante de la Cooperativa Agraria Número")
        == listed.count("de la Provincia")
        == 3
    )
    assert listed.endswith("Número 3 de la Provincia.")


def test_a_list_keeps_its_whole_introduction():
    intro = (
        "En relación con las estrategias planteadas en los países con actividades extractivas y en "
        "los territorios que dependen de ellas durante décadas, se consideran cuatro orientaciones "
        "que resume el grupo de trabajo:"
    )
    units = [
        intro,
        "a) Diversificación desde las industrias extractivas;",
        "b) Diversificación desde otros sectores.",
    ]
    assert list_with_items(units, 0, 450) == (
        f"{intro} a) Diversificación desde las industrias extractivas; "
        "b) Diversificación desde otros sectores."
    )


def test_an_objective_is_named_both_ways_the_documents_name_it():
    assert with_codes("que busca el objetivo prioritario 4?") == (
        "que busca el objetivo prioritario 4? OP4"
    )
    assert with_codes("quien es responsable del OP2") == (
        "quien es responsable del OP2 objetivo prioritario 2"
    )
    assert with_codes("que es la VUCE") == "que es la VUCE"
