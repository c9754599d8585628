import re
from pathlib import Path

from ingest.structure import service_card
from retrieval.answerer import ExtractiveAnswerer
from retrieval.contract import Source
from retrieval.glossary import Glossary
from retrieval.query import QuestionType, classify, split_question, with_codes
from retrieval.quotes import extend_row, label_values


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


def uniform_answerer(columns: dict[str, str] | None = None, glossary=None) -> ExtractiveAnswerer:
    """An answerer where every term weighs the same, over the given table years and glossary."""
    return ExtractiveAnswerer(lambda _term: 1.0, glossary or Glossary([]), columns or {}, 600)


def source(n: int, text: str, chunk_id: str = "") -> Source:
    return Source(n, "doc", "Doc", None, None, chunk_id or f"c{n}", text, 0.0)


def test_target_answer_joins_the_action_with_its_cells_and_cites():
    sources = [
        source(1, "Desarrollar proyectos de mejora del proceso de secado de orégano.\n"
                  "N° de productores capacitados. 20 60 80\n"
                  "Gestionar el programa de certificación orgánica en campos de orégano."),
        source(2, "La región tiene clima templado."),
    ]  # fmt: skip
    answerer = uniform_answerer({"c1": "2018	2021	2025"})
    text = answerer.compose("cuantos productores de oregano se capacitan en secado?", sources)
    assert "(2018: 20; 2021: 60; 2025: 80) [1]" in text
    assert len(text) <= 600
    assert set(re.findall(r"\[(\d+)\]", text)) <= {"1", "2"}


def test_responsible_answer_keeps_the_direct_responsible():
    sources = [
        source(1, "Crear una red de servicios de reparación y mantenimiento de equipos de plantas "
                  "de congelados. CITE Pesquero. Crear una red de servicios de reparación. Hacer uso "
                  "de la red de servicios de reparación. Plantas procesadoras de congelados."),
    ]  # fmt: skip
    answerer = uniform_answerer()
    text = answerer.compose(
        "quien es responsable de la red de reparacion de plantas de congelados", sources
    )
    assert "Plantas procesadoras de congelados." in text
    assert text.endswith("[1]")


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
    answerer = uniform_answerer(glossary=Glossary(chunks))

    assert answerer.definitions("que es GORE", sources) == ["GORE: Gobierno Regional. [1][2]"]
    assert answerer.definitions("que significa CERX", sources) == [
        "CERX (PERX): Comité Regional de Exportaciones. [1]",
        "CERX (PNMCE): Comités Ejecutivos Regionales Exportadores. [2]",
    ]


SERVICE_CARD = (Path(__file__).parents[1] / "fixtures" / "service-card.txt").read_text(
    encoding="utf-8"
)


def test_who_provides_a_service_is_composed_from_its_card_with_participants():
    card = service_card(SERVICE_CARD)
    sources = [
        Source(
            2, "pnmce", "PNMCE", None, "4.3 > S5.2.1", "c2", SERVICE_CARD, 0.0, {"servicio": card}
        ),
        source(1, "La capacitación en comercio exterior mejora la competitividad de las empresas."),
    ]
    answerer = uniform_answerer()
    text = answerer.compose("quien brinda las capacitaciones para la internacionalizacion", sources)
    assert text.startswith(
        "S5.2.1 Capacitaciones para la competitividad e internacionalización. Responsable: MINCETUR; "
        "con participación de: AGROMERCADO, INACAL, INDECOPI. [2]"
    )


def test_an_indicator_target_names_the_indicator_its_baseline_and_the_year_asked():
    values = {"unit": "Valor absoluto (US$ millones)", "baseline": "2024: 1 131",
              "expected": ["2030: 1 926", "2040: 3 320"]}  # fmt: skip
    facts = {"indicador": {"name": "Valor total de las exportaciones de servicios no tradicionales",
                           "values": [values]}}  # fmt: skip
    sources = [
        Source(1, "pnmce", "PNMCE", None, "OP3 > Valor total de las exportaciones de servicios no tradicionales",
               "c1", "Año\t2024\t2030\t2040\nValor absoluto (US$ millones)\t1 131\t1 926\t3 320", 0.0, facts),
    ]  # fmt: skip
    answerer = uniform_answerer({"c1": "2024\t2030\t2040"})
    text = answerer.compose("meta al 2040 de exportaciones de servicios no tradicionales", sources)
    assert text.startswith(
        "Valor total de las exportaciones de servicios no tradicionales (Valor absoluto (US$ millones)): "
        "línea de base 2024: 1 131; logro esperado 2040: 3 320. [1]"
    )
    assert "1 926" not in text.split("[1]")[0]  # only the year asked, besides the baseline


def test_a_question_in_two_parts_is_split_keeping_its_topic():
    assert split_question(
        "rpe: cuantos meses duraba el piloto y cuantas entidades publicas articula?"
    ) == ["rpe: cuantos meses duraba el piloto", "rpe: cuantas entidades publicas articula?"]
    # A short second part is about what the first part names.
    assert split_question("que fue el programa Sepymex y cuantas operaciones garantizo?") == [
        "que fue el programa Sepymex",
        "que fue el programa Sepymex cuantas operaciones garantizo?",
    ]
    assert split_question("¿Cuándo y dónde se lanzó la Ruta Productiva Exportadora?") == [
        "¿Cuándo y dónde se lanzó la Ruta Productiva Exportadora?"
    ]
    assert split_question("requisitos sanitarios y fitosanitarios para exportar") == [
        "requisitos sanitarios y fitosanitarios para exportar"
    ]


def test_both_parts_of_a_two_part_question_find_their_evidence(service):
    answer = service.answer(
        "¿Cuántas OCEX tiene el Perú y quién provee el servicio de capacitación en calidad?", k=5
    )
    texts = " ".join(s.text for s in answer.sources)
    assert "OCEX" in texts and "S5.2.1" in texts


def test_a_list_after_a_colon_is_quoted_item_by_item_up_to_its_end():
    units = [
        "Existen 4 medios que otorga el Ministerio de la Producción, estos medios son:",
        "Las concesiones, que se otorgan para la administración de la infraestructura estatal,",
        "Las autorizaciones, son necesarias para el desarrollo de la acuicultura,",
        "El permiso de pesca para las embarcaciones; y La licencia exigida para las plantas.",
        "Las instituciones públicas que intervienen en el sector son:",
    ]
    assert extend_row(units, 0, QuestionType.GENERAL) == (
        "Existen 4 medios que otorga el Ministerio de la Producción, estos medios son: "
        "Las concesiones; Las autorizaciones; El permiso de pesca para las embarcaciones; "
        "La licencia exigida para las plantas."
    )


def test_codes_list_numbers_and_footnotes_are_no_answer_to_how_much():
    sources = [
        source(1, "Arequipa, destino turístico de impacto • AEI 3. Arequipa, región agro-tech\n"
                  "[1] Relacionados al turismo receptivo e incluye transporte de pasajeros.\n"
                  "Los servicios de turismo receptivo alcanzan el 68% del total exportado."),
    ]  # fmt: skip
    answerer = uniform_answerer()
    text = answerer.compose("cuanto pesa el turismo receptivo en la exportacion", sources)
    assert text.startswith(
        "Los servicios de turismo receptivo alcanzan el 68% del total exportado. [1]"
    )
    assert "[1] Relacionados" not in text


def test_an_objective_is_named_both_ways_the_documents_name_it():
    assert with_codes("que busca el objetivo prioritario 4?") == (
        "que busca el objetivo prioritario 4? OP4"
    )
    assert with_codes("quien es responsable del OP2") == (
        "quien es responsable del OP2 objetivo prioritario 2"
    )
    assert with_codes("que es la VUCE") == "que es la VUCE"


def test_a_second_part_asked_with_a_relative_word_still_gets_its_quote():
    tail = ", según la encuesta estructural de la pesquería artesanal realizada en las regiones del sur."
    sources = [
        source(1, "\n".join([
            f"La población de pescadores artesanales de la Región Moquegua se estima en 1,700{tail}",
            f"La flota de los pescadores artesanales de Moquegua se estima en 347 embarcaciones{tail}",
            f"En la Región Moquegua los pescadores artesanales se agrupan en 12 gremios{tail}",
            f"El crecimiento poblacional de pescadores artesanales de Moquegua fue del 244%{tail}",
        ])),
        source(2, "La cadena de los moluscos de la Región Moquegua incluye a los actores directos."),
    ]  # fmt: skip
    answerer = uniform_answerer()
    text = answerer.compose(
        "cuantos pescadores artesanales hay en la region Moquegua y cuanto crecieron?", sources
    )
    assert "1,700" in text and "244%" in text  # "crecieron" is answered by "crecimiento"
