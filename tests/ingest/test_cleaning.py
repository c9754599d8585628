"""Cleaning of PDF-extraction noise: hyphenation, spacing, page numbers, running headers, NFC."""

import unicodedata

import pytest

from ingest.cleaning import clean_page, is_page_number, join_hyphenated, running_headers


def test_word_hyphenated_across_lines_is_joined():
    assert join_hyphenated("La Internaciona-\nlización") == "La Internacionalización"


def test_hyphenation_survives_a_blank_line_between_the_halves():
    # pypdf's layout mode puts a blank line between printed lines.
    assert clean_page("La promoción de la Internaciona-\n\nlización de la acuicultura") == [
        "La promoción de la Internacionalización de la acuicultura"
    ]


def test_hyphen_before_a_capital_is_kept():
    assert join_hyphenated("Tacna-\nMoquegua") == "Tacna-\nMoquegua"


def test_compound_word_on_one_line_is_untouched():
    assert clean_page("requisitos zoo-fitosanitarios") == ["requisitos zoo-fitosanitarios"]


def test_space_runs_in_prose_collapse_to_one_space():
    text = "Exportaciones  de\u00a0servicios \u2009no  tradicionales"
    assert clean_page(text) == ["Exportaciones de servicios no tradicionales"]


def test_tabs_and_wide_gaps_become_one_tab_between_table_cells():
    text = "Asistencia  técnica \t  20%      90%\t\t(meta)"
    assert clean_page(text) == ["Asistencia técnica\t20%\t90%\t(meta)"]


def test_wrapped_lines_of_a_paragraph_become_one_line():
    text = "El taller se desarrolló el 24 y 25 de octubre\nde 2016 con setenta representantes."
    assert clean_page(text) == [
        "El taller se desarrolló el 24 y 25 de octubre de 2016 con setenta representantes."
    ]


def test_table_rows_keep_their_own_lines():
    text = "ACCIÓN              2008      2009\nAsistencia técnica    20%       90%"
    assert clean_page(text) == ["ACCIÓN\t2008\t2009\nAsistencia técnica\t20%\t90%"]


@pytest.mark.parametrize("line", ["12", "  7  ", "Página 4", "pág. 15", "Pag 3", "42 43"])
def test_page_number_lines_are_recognised(line):
    assert is_page_number(line)


@pytest.mark.parametrize("line", ["2025", "42 45", "20%", "1. INTRODUCCIÓN", "S/ 1 500"])
def test_numbers_that_are_content_are_not_page_numbers(line):
    assert not is_page_number(line)


def test_page_number_lines_are_dropped_and_content_numbers_kept():
    text = "Metas al 2025\n\n42 43\n\nSe capacitará a 80 productores.\n\n17"
    assert clean_page(text) == ["Metas al 2025", "Se capacitará a 80 productores."]


def test_running_header_repeated_on_pages_is_detected_and_dropped():
    header = "Plan Regional Exportador de Moquegua"
    bodies = ["La región exporta pisco.", "El orégano se seca en campo.", "La palta crece."]
    pages = [f"{header}\n{body}\n{n}" for n, body in enumerate(bodies, start=1)]
    headers = running_headers(pages)
    assert headers == {header}
    assert clean_page(pages[1], headers) == ["El orégano se seca en campo."]


def test_running_header_followed_by_the_section_title_is_dropped():
    headers = {"Plan Regional Exportador de Moquegua"}
    text = "Plan Regional Exportador de Moquegua Análisis de la oferta\n\nLa oferta crece."
    assert clean_page(text, headers) == ["La oferta crece."]


def test_lines_repeated_alone_in_a_text_file_are_headers():
    page = "\n\n".join(
        ["Plan Regional Exportador Demo", "Primer párrafo del plan."] * 3 + ["Último párrafo."]
    )
    assert running_headers([page]) == {"Plan Regional Exportador Demo"}


def test_repeated_sentences_and_upper_case_titles_are_not_headers():
    page = "\n\n".join(["La meta se cumple cada año.", "ACRÓNIMOS Y SIGLAS DEL PLAN"] * 3)
    assert running_headers([page]) == set()


def test_text_is_nfc_normalised():
    decomposed = "Exportacio\u0301n de pin\u0303a"
    [paragraph] = clean_page(decomposed)
    assert paragraph == "Exportación de piña"
    assert unicodedata.is_normalized("NFC", paragraph)


def test_windows_line_endings_are_handled():
    assert clean_page("Primera línea\r\nsegunda línea\r\n\r\nOtro párrafo") == [
        "Primera línea segunda línea",
        "Otro párrafo",
    ]
