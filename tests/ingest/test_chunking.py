"""Structure-aware chunking: service cards, glossaries, tables, sizes, sections and metadata."""

from pathlib import Path

import pytest

from ingest.catalog import describe, load_catalog, slugify
from ingest.chunking import GLOSSARY_MAX_WORDS, MAX_WORDS, chunk_document
from ingest.loaders import load_document
from retrieval.contract import Chunk, Facts
from retrieval.text import count_words


def chunks_of(path: Path) -> list[Chunk]:
    """Chunks of one file, described with the catalog of its folder (as the pipeline does)."""
    info = describe(path, load_catalog([path.parent]))
    return chunk_document(
        load_document(path), "v1", info.doc_id, info.title, info.kind, info.year, info.region
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def containing(chunks: list[Chunk], text: str) -> list[Chunk]:
    return [c for c in chunks if text in c.text]


LONG_DESCRIPTION = " ".join(
    f"La actividad {n} del servicio brinda asistencia técnica a las empresas exportadoras."
    for n in range(1, 40)
)

FICHA = f"""FICHA DE SERVICIOS\t
Elemento\tDescripción
<b>Objetivo prioritario</b>\tOP1 Profundizar el aprovechamiento de los acuerdos comerciales
<b>Nombre del servicio</b>\tS1.1.1 Gestión de información de oportunidades comerciales.
<b>Descripción del servicio</b>\t<p>{LONG_DESCRIPTION}</p>
<b>Proveedor del servicio</b>\tResponsable: MINCETUR Con participación de: PROMPERÚ
<b>Descripción del estándar</b>\tSe entrega de manera oportuna.

<b>Indicador de calidad</b>\tPorcentaje de productos publicados en plazo.
<b>Indicador de cobertura</b>\t<ol> <li>1. Número de empresas que reciben información.</li> </ol>
"""


def test_service_card_longer_than_a_chunk_stays_whole(tmp_path):
    text = f"## 4.3.1. Fichas de servicios\n\n{FICHA}\nTexto que sigue a la ficha.\n"
    chunks = chunks_of(write(tmp_path, "pnmce.md", text))

    [card] = containing(chunks, "FICHA DE SERVICIOS")
    assert count_words(card.text) > MAX_WORDS
    assert "Objetivo prioritario\tOP1" in card.text
    assert "La actividad 39 del servicio" in card.text
    assert "Indicador de calidad" in card.text  # after the blank line inside the card
    assert "Indicador de cobertura\t1. Número de empresas que reciben información." in card.text
    assert "Texto que sigue a la ficha." not in card.text
    assert containing(chunks, "Texto que sigue a la ficha.")


def test_a_service_card_opened_by_a_heading_is_one_card_with_its_facts(tmp_path):
    body = FICHA.split("\n", 1)[1]  # the rows, without the opening line
    text = f"## 4.3.1. Fichas de servicios\n\n## FICHA DE SERVICIOS\n\n{body}\nTexto que sigue.\n"
    chunks = chunks_of(write(tmp_path, "pnmce.md", text))

    [card] = containing(chunks, "Nombre del servicio")
    assert card.text.startswith("FICHA DE SERVICIOS\nElemento")
    assert "Indicador de cobertura" in card.text and "Texto que sigue." not in card.text
    service = Facts.model_validate_json(card.facts).servicio
    assert (service.code, service.responsible) == ("S1.1.1", "MINCETUR")


def test_a_heading_named_like_a_card_with_no_rows_is_only_a_heading(tmp_path):
    text = "## FICHA DE SERVICIOS\n\nLas fichas se presentan a continuación.\n"
    [chunk] = chunks_of(write(tmp_path, "pnmce.md", text))
    assert chunk.text == "Las fichas se presentan a continuación."
    assert chunk.facts is None


def test_consecutive_service_cards_are_separate_chunks(fixture_corpus):
    chunks = chunks_of(fixture_corpus / "politica-demo.md")
    cards = [c for c in chunks if c.text.startswith("FICHA DE SERVICIO")]
    assert len(cards) == 2
    assert "S1.4.1" in cards[0].text and "Indicador de cobertura" in cards[0].text
    assert "S5.2.1" in cards[1].text and "INDECOPI" in cards[1].text
    assert "S5.2.1" not in cards[0].text


ACRONYMS = [
    (f"SIG{n:02d}", f"Programa Regional de Apoyo número {n} a los exportadores del sur")
    for n in range(1, 41)
]


@pytest.mark.parametrize("separator", ["\n\n", "\n"], ids=["paragraphs", "lines"])
def test_acronym_entries_are_never_split_from_their_expansion(tmp_path, separator):
    entries = separator.join(f"{acronym}\t {expansion}." for acronym, expansion in ACRONYMS)
    text = f"ACRÓNIMOS, PROGRAMAS Y SIGLAS\n\n{entries}\n"
    chunks = chunks_of(write(tmp_path, "perx.txt", text))

    assert len(chunks) > 1  # the glossary is longer than one glossary chunk
    for chunk in chunks:
        assert chunk.section == "ACRÓNIMOS, PROGRAMAS Y SIGLAS"
        assert count_words(chunk.text) <= GLOSSARY_MAX_WORDS
    for acronym, expansion in ACRONYMS:
        assert len(containing(chunks, f"{acronym} {expansion}.")) == 1, acronym


def test_markdown_acronym_list_keeps_each_entry_whole(fixture_corpus):
    chunks = chunks_of(fixture_corpus / "politica-demo.md")
    [glossary] = [c for c in chunks if c.section and c.section.endswith("6.2. Acrónimos")]
    assert glossary.text.split("\n") == [
        "ADEX: Asociación de Exportadores del Perú.",
        "CERX: Comités Ejecutivos Regionales Exportadores.",
        "PROINNOVATE: Programa Nacional de Desarrollo Tecnológico e Innovación.",
    ]


def test_glossary_term_stays_with_its_definition(tmp_path):
    terms = [
        (f"Término {n}", " ".join(["Definición extensa del término de comercio exterior."] * 4))
        for n in range(1, 8)
    ]
    body = "\n\n".join(f"- **{term}:**\n\n{definition}" for term, definition in terms)
    chunks = chunks_of(write(tmp_path, "pnmce.md", f"## 6.1. Glosario\n\n{body}\n"))
    assert len(chunks) > 1
    for chunk in chunks:
        assert not chunk.text.rstrip().endswith(":**"), chunk.text


TABLE_ROWS = [
    f"Producto exportable número {n}          {100 + n} t          {2000 + n}          Moquegua"
    for n in range(1, 80)
]


def test_table_rows_are_never_cut(tmp_path):
    text = "PRODUCTO   VOLUMEN   AÑO   REGIÓN\n" + "\n".join(TABLE_ROWS) + "\n"
    chunks = chunks_of(write(tmp_path, "tabla.txt", text))

    assert len(chunks) > 1
    lines = [line for c in chunks for line in c.text.split("\n")]
    header = ["PRODUCTO\tVOLUMEN\tAÑO\tREGIÓN"]
    expected = header + [
        f"Producto exportable número {n}\t{100 + n} t\t{2000 + n}\tMoquegua" for n in range(1, 80)
    ]
    assert lines == expected  # every row whole, once, in order
    assert all(count_words(c.text) <= MAX_WORDS for c in chunks)


def test_long_prose_is_cut_between_sentences_within_the_size_limit(tmp_path):
    sentences = [
        f"La cadena {n} de valor del cacao exporta a Bélgica y a Italia." for n in range(90)
    ]
    paragraphs = [" ".join(sentences[:60]), " ".join(sentences[60:75]), " ".join(sentences[75:])]
    chunks = chunks_of(write(tmp_path, "cacao.txt", "\n\n".join(paragraphs)))

    assert len(chunks) > 1
    assert all(count_words(c.text) <= MAX_WORDS for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)
    all_words = " ".join(c.text for c in chunks).split()
    assert all_words == " ".join(sentences).split()  # nothing lost, nothing repeated


def test_markdown_headings_give_the_section_path(tmp_path):
    text = (
        "# **POLÍTICA DEMO**\n\n## 1. Contexto\n\nTexto del contexto.\n\n"
        "### 1.1. Comercio de servicios\n\nTexto de servicios.\n\n"
        "## 2. Objetivos\n\nTexto de objetivos.\n"
    )
    chunks = chunks_of(write(tmp_path, "politica.md", text))
    assert [(c.section, c.text) for c in chunks] == [
        ("POLÍTICA DEMO > 1. Contexto", "Texto del contexto."),
        ("POLÍTICA DEMO > 1. Contexto > 1.1. Comercio de servicios", "Texto de servicios."),
        ("POLÍTICA DEMO > 2. Objetivos", "Texto de objetivos."),
    ]


INDICATOR_CARDS = """## 7.5. Fichas técnicas

#### OBJETIVO PRIORITARIO 1

Ficha técnica del indicador\t
<b>Objetivo prioritario:</b>\t<b>OP1. Profundizar el aprovechamiento de los acuerdos</b>
<b>Nombre del indicador:</b>\t<b>Valor total de las exportaciones no minero energéticas</b>
<b>Justificación:</b>\tMide la evolución de las exportaciones.

### Ficha técnica del indicador

\tLínea de base\tLogros esperados
Año\t2024\t2030\t2040
Valor absoluto (US\\$ millones)\t23 237\t30 000\t44 633

**OBJETIVO PRIORITARIO 3**

Ficha técnica del indicador\t
<b>Nombre del indicador:</b>\t<b>Valor total de las exportaciones de servicios no tradicionales</b>

### Ficha técnica del indicador

Año\t2024\t2030\t2040
Valor absoluto (US\\$ millones)\t1 131\t1 926\t3 320

**NO SE CONSIDERAN:**

Texto final.
"""


def test_an_indicator_card_continued_on_the_next_page_keeps_its_name_and_objective(tmp_path):
    chunks = chunks_of(write(tmp_path, "politica.md", INDICATOR_CARDS))
    [first] = containing(chunks, "44 633")
    assert first.section == (
        "7.5. Fichas técnicas > OBJETIVO PRIORITARIO 1 > "
        "Valor total de las exportaciones no minero energéticas"
    )
    assert first.columns == "2024\t2030\t2040"
    [third] = containing(chunks, "3 320")  # "**OBJETIVO PRIORITARIO 3**" is OP1's sibling
    assert third.section == (
        "7.5. Fichas técnicas > OBJETIVO PRIORITARIO 3 > "
        "Valor total de las exportaciones de servicios no tradicionales"
    )
    [last] = containing(chunks, "Texto final.")  # a bold label ending in ":" is no heading
    assert "NO SE CONSIDERAN" in last.text


def test_numbered_and_upper_case_headings_of_text_files(fixture_corpus):
    chunks = chunks_of(fixture_corpus / "plan-regional-demo.txt")
    [intro] = containing(chunks, "El taller de actualización")
    assert intro.section == "1. INTRODUCCIÓN"
    assert "La Internacionalización de las empresas" in intro.text  # hyphenation joined
    assert not containing(chunks, "Plan Regional Exportador Demo")  # running header dropped
    assert not any(line in ("4 5", "6 7") for c in chunks for line in c.text.split("\n"))


def test_table_caption_is_kept_with_its_rows(fixture_corpus):
    chunks = chunks_of(fixture_corpus / "plan-regional-demo.txt")
    [table] = containing(chunks, "N° de productores capacitados. 20 60 80")
    assert "Especias y condimentos" in f"{table.section} {table.text}"


def test_pdf_chunks_carry_the_page_they_start_on(fixture_corpus):
    chunks = chunks_of(fixture_corpus / "estudio-moluscos-demo.pdf")
    [first] = containing(chunks, "1,700")
    [fondepes] = containing(chunks, "FONDEPES")
    assert (first.page, fondepes.page) == (1, 2)
    assert "La promoción de la Internacionalización de la acuicultura" in fondepes.text
    assert all(c.page_label is None for c in chunks)


def test_pdf_text_is_cited_with_its_own_page(fixture_corpus):
    chunks = chunks_of(fixture_corpus / "estudio-moluscos-demo.pdf")
    [china] = containing(chunks, "China exige")
    assert china.page == 3


def test_pdf_page_labels_reach_the_chunks(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for heading, style in [("1. PRESENTACION", "R"), ("2. DIAGNOSTICO", "D")]:
        pdf.add_page()
        pdf.set_page_label(label_style=style, label_start=1)
        for line in [heading, f"Texto de la seccion {heading[3:].lower()} del plan."]:
            pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "etiquetado.pdf"))

    chunks = chunks_of(tmp_path / "etiquetado.pdf")
    assert [(c.section, c.page, c.page_label) for c in chunks] == [
        ("1. PRESENTACION", 1, "I"),
        ("2. DIAGNOSTICO", 2, "1"),  # the printed "1" is what a reader looks for
    ]


def test_catalog_metadata_reaches_every_chunk(tmp_path):
    write(tmp_path, "catalog.toml", (
        '["perx-tacna.txt"]\ntitle = "Plan Regional Exportador de Tacna"\n'
        'kind = "perx"\nyear = 2017\nregion = "Tacna"\n'
    ))  # fmt: skip
    chunks = chunks_of(write(tmp_path, "perx-tacna.txt", "Tacna exporta aceituna.\n"))
    assert {(c.doc_id, c.title, c.kind, c.year, c.region) for c in chunks} == {
        ("perx-tacna", "Plan Regional Exportador de Tacna", "perx", 2017, "Tacna")
    }


def test_catalog_can_set_the_doc_id(tmp_path):
    write(tmp_path, "catalog.toml", '["Informe Final.txt"]\ndoc_id = "informe-tacna"\n')
    [chunk] = chunks_of(write(tmp_path, "Informe Final.txt", "Tacna exporta aceituna.\n"))
    assert chunk.doc_id == "informe-tacna"
    assert chunk.chunk_id == "informe-tacna-v1-0000"


def test_documents_outside_the_catalog_get_a_derived_title_and_year(tmp_path):
    [chunk] = chunks_of(write(tmp_path, "Estudio_Mercado-Palta 2019.txt", "La palta crece.\n"))
    assert chunk.doc_id == "estudio-mercado-palta-2019"
    assert chunk.title == "Estudio mercado palta 2019"
    assert (chunk.kind, chunk.year, chunk.region) == ("documento", 2019, None)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("PNMCE 2040", "pnmce-2040"),
        ("Política Exportación", "politica-exportacion"),
        ("¿?", "documento"),
    ],
)
def test_slugify(name, slug):
    assert slugify(name) == slug


def test_chunk_ids_are_unique_and_ordinals_sequential(fixture_corpus):
    chunks = chunks_of(fixture_corpus / "politica-demo.md")
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert [c.chunk_id for c in chunks] == [f"politica-demo-v1-{n:04d}" for n in range(len(chunks))]
    assert all(c.doc_version == "v1" for c in chunks)
