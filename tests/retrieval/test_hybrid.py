"""Hybrid retrieval's second stage: the best sentence of a passage, and tables for the year asked."""

from retrieval.contract import Chunk
from retrieval.hybrid import HybridRetriever, _tabulates, rrf_fuse
from retrieval.text import content_terms


def chunk(n: int, text: str, columns: str | None = None, section: str | None = None) -> Chunk:
    return Chunk(
        chunk_id=f"doc-v-{n:04d}",
        doc_id="doc",
        text=text,
        title="Plan demo",
        kind="plan",
        year=None,
        region=None,
        page=None,
        page_label=None,
        section=section,
        doc_version="v",
        ordinal=n,
        columns=columns,
    )


def test_rrf_rewards_agreement_between_rankings():
    fused = rrf_fuse([["a", "b", "c"], ["b", "a", "d"]], [1.0, 1.0])
    assert fused["a"] == fused["b"] > fused["c"] == fused["d"]


def test_a_passage_whose_one_sentence_answers_beats_one_that_spreads_the_words():
    spread = chunk(
        0,
        "Las responsabilidades del plan se asignan por cadena. "
        "La información de mercados se revisa en talleres. "
        "El destino de los productos se decide en la región.",
    )
    focused = chunk(1, "GERCETUR provee información de mercados destino a los productores.")
    retriever = HybridRetriever(store=None, embedder=None, chunks=[spread, focused])
    terms = set(content_terms("¿Quién provee información de mercados destino?"))
    assert retriever._unit_coverage(focused.chunk_id, terms) > retriever._unit_coverage(
        spread.chunk_id, terms
    )


def test_tables_and_indicator_cards_with_the_year_asked_for():
    row = chunk(0, "N° de productores capacitados. 20 60 80", columns="2018\t2021\t2025")
    card = chunk(1, "Línea de base Año: 2024 Valor: 810 Logro esperado Año: 2040 Valor: 950")
    prose = chunk(2, "En 2025 el plan se evaluará con los gremios.")
    assert _tabulates(row, ["2025"])
    assert _tabulates(card, ["2040"])
    assert not _tabulates(row, ["2040"])
    assert not _tabulates(prose, ["2025"])  # a year in prose is no table of values


def test_typo_matching_keeps_telefono_apart_from_telecomunicaciones():
    from retrieval.lexical import LexicalIndex
    from retrieval.text import content_terms

    text = "Infraestructura de telecomunicaciones para la capacitación de productores exportadores."
    lexical = LexicalIndex([chunk(0, text)])

    [telefono] = content_terms("teléfono")
    [capasitacion] = content_terms("capasitación")
    assert not lexical.resembles_known(telefono)
    assert lexical.resembles_known(capasitacion)
    assert lexical.correct("¿hay capasitacion por telefono?") == "¿hay capacitacion por telefono?"


def test_the_dense_query_spells_plain_lower_case_words_as_the_documents_do():
    from retrieval.lexical import LexicalIndex

    index = LexicalIndex(
        [
            chunk(1, "El SENASA otorga la certificación orgánica en Moquegua."),
            chunk(2, "La certificación del SENASA; la senasa de un acta antigua."),
        ]
    )
    asked = "que pide senasa para la certificacion organica en moquegua?"
    assert index.as_written(asked) == (
        "que pide SENASA para la certificación orgánica en Moquegua?"
    )
    # A word typed with capitals or accents stays as typed; an unknown one too.
    assert (
        index.as_written("Certificacion Senasa cúánto xyzzy") == "Certificacion Senasa cúánto xyzzy"
    )
