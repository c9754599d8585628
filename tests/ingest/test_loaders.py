"""Loaders: PDF pages and labels, text encodings, HTML leftovers in Markdown, rejected files."""

import random

import pytest
from fpdf import FPDF

from ingest.loaders import load_document, strip_html
from prompts import message
from retrieval.errors import DocumentRejected


def test_bold_and_superscript_tags_are_removed_keeping_their_text():
    line = "El <b>Perú</b> cuenta con treinta OCEX<sup>12</sup> en el mundo."
    assert strip_html(line) == "El Perú cuenta con treinta OCEX 12 en el mundo."


def test_paragraph_and_list_tags_are_removed_keeping_their_text():
    line = (
        '<p>Primero.</p> <ol style="x"> <li>1. Empresas asistidas.</li> <li>2. Visitas.</li> </ol>'
    )
    text = strip_html(line)
    assert "<" not in text and ">" not in text
    assert " ".join(text.split()) == "Primero. 1. Empresas asistidas. 2. Visitas."


def test_table_cell_tabs_survive_html_stripping():
    line = "<b>Proveedor del servicio</b>\tPROMPERÚ\t<b>Nacional</b>"
    assert strip_html(line) == "Proveedor del servicio\tPROMPERÚ\tNacional"


def test_markdown_and_comparisons_without_tags_are_left_alone():
    text = "## 2. Empresas\n\nMicro<=150 UIT y **pequeña** > 150 UIT"
    assert strip_html(text) == text


def test_markdown_document_loses_html_but_keeps_headings_and_tabs(fixture_corpus):
    document = load_document(fixture_corpus / "politica-demo.md")
    [page] = document.pages
    assert document.fmt == "md" and page.number is None
    for tag in ("<b>", "</b>", "<sup>", "<p>", "<ol", "<li>"):
        assert tag not in page.text
    assert "## 1. Contexto" in page.text
    assert "Nombre del servicio\tS5.2.1 Capacitación en calidad para exportadores." in page.text
    assert "Número de empresas extranjeras asistidas." in page.text


def test_pdf_pages_are_numbered_and_hold_their_own_text(fixture_corpus):
    document = load_document(fixture_corpus / "estudio-moluscos-demo.pdf")
    assert document.fmt == "pdf"
    assert [p.number for p in document.pages] == [1, 2, 3]
    assert [p.label for p in document.pages] == [None, None, None]
    assert "1,700" in document.pages[0].text
    assert "FONDEPES" in document.pages[1].text
    assert "China exige" in document.pages[2].text
    assert "China exige" not in document.pages[1].text


def test_pdf_page_labels_are_kept_when_they_differ_from_the_number(tmp_path):
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text, style in [("Presentacion del plan", "r"), ("Prologo", None), ("Capitulo uno", "D")]:
        pdf.add_page()
        if style:
            pdf.set_page_label(label_style=style, label_start=1)
        pdf.cell(0, 8, text)
    pdf.output(str(tmp_path / "etiquetas.pdf"))

    document = load_document(tmp_path / "etiquetas.pdf")
    assert [(p.number, p.label) for p in document.pages] == [(1, "i"), (2, "ii"), (3, "1")]


def test_utf8_with_bom_and_windows_1252_text_decode(tmp_path):
    (tmp_path / "utf8.txt").write_bytes("\ufeffExportación de piña".encode())
    (tmp_path / "latin.txt").write_bytes("Exportación de piña".encode("cp1252"))
    assert load_document(tmp_path / "utf8.txt").pages[0].text == "Exportación de piña"
    assert load_document(tmp_path / "latin.txt").pages[0].text == "Exportación de piña"


def test_content_hash_is_the_sha256_of_the_bytes(tmp_path):
    import hashlib

    path = tmp_path / "plan.txt"
    path.write_text("Plan de exportación", encoding="utf-8")
    assert load_document(path).content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def _rejection(path) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        load_document(path)
    return caught.value


def test_random_bytes_named_pdf_are_rejected_as_corrupt(tmp_path):
    path = tmp_path / "danado.pdf"
    path.write_bytes(random.Random(7).randbytes(4096))
    error = _rejection(path)
    assert error.key == "ingest.corrupt_pdf"
    assert str(error).startswith("el PDF está dañado o no es un PDF válido (")


def test_truncated_pdf_is_rejected_as_corrupt(tmp_path, pdf_builder):
    whole = pdf_builder(tmp_path / "entero.pdf", [["Texto de prueba"]]).read_bytes()
    path = tmp_path / "cortado.pdf"
    path.write_bytes(whole[: len(whole) // 3])
    assert _rejection(path).key == "ingest.corrupt_pdf"


def test_password_protected_pdf_is_rejected_as_encrypted(tmp_path, pdf_builder):
    path = pdf_builder(tmp_path / "cifrado.pdf", [["Contenido reservado"]], user_password="clave")
    error = _rejection(path)
    assert error.key == "ingest.encrypted_pdf"
    assert str(error) == message("ingest.encrypted_pdf")


def test_pdf_with_only_an_owner_password_is_read(tmp_path, pdf_builder):
    # Opens without a password (only permissions are restricted): its text is indexable.
    path = pdf_builder(
        tmp_path / "permisos.pdf", [["Contenido abierto del plan"]], user_password=""
    )
    assert "Contenido abierto del plan" in load_document(path).pages[0].text


def test_pdf_without_text_is_rejected_as_needing_ocr(tmp_path):
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 80, 40)
    pdf.output(str(tmp_path / "escaneado.pdf"))
    # With OCR on, such a page is read by tesseract: tests/ingest/test_ocr.py.
    with pytest.raises(DocumentRejected) as caught:
        load_document(tmp_path / "escaneado.pdf", ocr="off")
    assert caught.value.key == "ingest.textless_pdf_ocr_off"
    assert str(caught.value).startswith("el PDF no tiene texto seleccionable; se requiere OCR")


@pytest.mark.parametrize("name", ["informe.docx", "metas.xlsx", "LEEME"])
def test_unsupported_file_types_are_rejected(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04 contenido")
    error = _rejection(path)
    assert error.key == "ingest.unsupported_type"
    assert str(error).startswith("tipo de archivo no admitido (")
    assert "se admiten .pdf, .txt y .md" in str(error)


def test_binary_file_named_txt_is_rejected_as_undecodable(tmp_path):
    path = tmp_path / "binario.txt"
    path.write_bytes(b"\x00\x01\x02texto\x00\xff" * 50)
    error = _rejection(path)
    assert error.key == "ingest.undecodable_text"
    assert str(error) == message("ingest.undecodable_text")


def test_empty_markdown_is_rejected(tmp_path):
    path = tmp_path / "vacio.md"
    path.write_text("  \n\n<p> </p>\n", encoding="utf-8")
    assert _rejection(path).key == "ingest.empty_document"
