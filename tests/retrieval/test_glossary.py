from retrieval.contract import Chunk
from retrieval.glossary import Glossary, parse_entry


def chunk(doc_id: str, title: str, section: str, text: str) -> Chunk:
    return Chunk(
        chunk_id=f"{doc_id}-v-0000", doc_id=doc_id, text=text, title=title, kind="x", year=None,
        region=None, page=None, page_label=None, section=section, doc_version="v", ordinal=0,
    )  # fmt: skip


def test_parse_entry_shapes_of_the_corpus():
    assert parse_entry("CERX: Comités Ejecutivos Regionales Exportadores.") == (
        "CERX",
        "Comités Ejecutivos Regionales Exportadores",
    )
    assert parse_entry("APPIM Asociación de Productores de Pisco de Moquegua.") == (
        "APPIM",
        "Asociación de Productores de Pisco de Moquegua",
    )
    assert parse_entry("INNOVATE PERU Programa Nacional de Innovación") == (
        "INNOVATE PERU",
        "Programa Nacional de Innovación",
    )
    assert parse_entry("I+D Investigación y Desarrollo.") == ("I+D", "Investigación y Desarrollo")
    assert parse_entry("Direpro Dirección Regional de Producción") == (
        "Direpro",
        "Dirección Regional de Producción",
    )
    assert parse_entry("El plan se elaboró con los actores de la región.") is None


def test_same_acronym_expanded_differently_keeps_both_documents():
    glossary = Glossary(
        [
            chunk(
                "perx",
                "PERX",
                "ACRÓNIMOS, PROGRAMAS Y SIGLAS",
                "CERX Comité Regional de Exportaciones.",
            ),
            chunk(
                "pnmce",
                "PNMCE",
                "6.2. Acrónimos",
                "CERX: Comités Ejecutivos Regionales Exportadores.",
            ),
            chunk("otro", "Otro", "1. Introducción", "CERX: no es una lista de siglas."),
        ]
    )
    entries = glossary.lookup("cerx")
    assert {(e.doc_id, e.expansion) for e in entries} == {
        ("perx", "Comité Regional de Exportaciones"),
        ("pnmce", "Comités Ejecutivos Regionales Exportadores"),
    }


def test_subjects_ignore_document_names_and_accents():
    glossary = Glossary(
        [
            chunk(
                "perx",
                "Plan Regional (PERX Moquegua)",
                "Siglas",
                "PERX Plan Regional Exportador.\nSANIPES Organismo Nacional de Sanidad Pesquera.",
            ),
        ]
    )
    assert glossary.subjects("que es sanipes segun el perx") == ["sanipes"]


def test_an_acronym_typed_alone_asks_what_it_is():
    glossary = Glossary(
        [
            chunk(
                "pop",
                "Plan Operativo",
                "Acrónimos",
                "SANIPES Organismo Nacional de Sanidad Pesquera.\nDIRCETUR Dirección Regional.",
            ),
        ]
    )
    for bare in ("DIRCETUR?", "sanipes", "¿Sanipes y dircetur?"):
        assert glossary.only_acronyms(bare)
    assert sorted(glossary.subjects("¿Sanipes y dircetur?")) == ["dircetur", "sanipes"]
    for question in ("¿quién preside SANIPES?", "sanipes moquegua", "hola"):
        assert not glossary.only_acronyms(question)
    assert glossary.subjects("¿quién preside SANIPES?") == []
