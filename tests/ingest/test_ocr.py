"""OCR of scanned PDFs: pages rendered by PDFium, read by tesseract in Spanish, numbers kept."""

import unicodedata
from pathlib import Path

import pytest
from fpdf import FPDF

from ingest.catalog import describe
from ingest.loaders import load_document
from ingest.ocr import ocr_available
from ingest.pipeline import chunk_file
from prompts import message
from retrieval.errors import DocumentRejected

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
FONT = next((Path(p) for p in FONT_CANDIDATES if Path(p).exists()), None)
needs_ocr = pytest.mark.skipif(
    not ocr_available(),
    reason="tesseract con datos en español no instalado (apt tesseract-ocr-spa)",
)
needs_font = pytest.mark.skipif(
    FONT is None, reason="no hay fuente TrueType (DejaVuSans) instalada"
)

CAFE = ["Exportación de café", "desde Cajamarca", "hacia Alemania"]
QUINUA = ["Certificación orgánica", "de la quinua", "en Puno"]


def _fold(text: str) -> str:
    """Lower case without accents, so OCR's accent slips do not fail a word."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _scan(folder: Path, name: str, lines: list[str]) -> Path:
    """A small page image of the lines, as a scanner would give it (black text on white)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 40)
    image = Image.new("L", (1000, 90 + 70 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((50, 40 + 70 * row), line, font=font, fill=0)
    path = folder / f"{name}.png"
    image.save(path)
    return path


def _scanned_pdf(path: Path, pages: list[list[str] | str]) -> Path:
    """A PDF whose list entries are scanned pages (an image, no text layer); str entries are text."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for number, page in enumerate(pages, start=1):
        pdf.add_page()
        if isinstance(page, str):
            pdf.cell(0, 10, page)
        else:
            pdf.image(str(_scan(path.parent, f"{path.stem}-{number}", page)), x=20, y=20, w=120)
    pdf.output(str(path))
    return path


@needs_ocr
@needs_font
def test_scanned_pages_are_read_in_spanish_with_their_page_numbers(tmp_path):
    document = load_document(_scanned_pdf(tmp_path / "escaneo.pdf", [CAFE, QUINUA]))

    assert [p.number for p in document.pages] == [1, 2]
    assert document.ocr_pages == (1, 2)
    first, second = (_fold(p.text) for p in document.pages)
    for word in ("exportacion", "cafe", "cajamarca", "alemania"):
        assert word in first
    for word in ("certificacion", "organica", "quinua", "puno"):
        assert word in second
    assert "quinua" not in first and "cajamarca" not in second


@needs_ocr
@needs_font
def test_mixed_pdf_keeps_its_text_page_and_reads_only_the_scanned_one(tmp_path):
    text_page = "Requisitos sanitarios de SENASA para la palta Hass"
    document = load_document(_scanned_pdf(tmp_path / "mixto.pdf", [text_page, QUINUA]))

    assert document.ocr_pages == (2,)
    assert document.pages[0].text.strip() == text_page
    assert "quinua" in _fold(document.pages[1].text)


@needs_ocr
@needs_font
def test_indexed_chunks_of_a_scan_cite_their_page(tmp_path):
    path = _scanned_pdf(tmp_path / "guia-2023.pdf", [CAFE, QUINUA])
    _, chunks = chunk_file(path, describe(path, {}), ocr="auto")
    pages = {chunk.page: _fold(chunk.text) for chunk in chunks}
    assert "cajamarca" in pages[1] and "puno" in pages[2]

    with pytest.raises(DocumentRejected) as caught:
        chunk_file(path, describe(path, {}), ocr="off")
    assert caught.value.key == "ingest.textless_pdf_ocr_off"


@needs_ocr
def test_blank_scan_is_rejected_because_ocr_found_no_text(tmp_path):
    from PIL import Image

    Image.new("L", (800, 600), 255).save(tmp_path / "blanco.png")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(tmp_path / "blanco.png"), x=20, y=20, w=120)
    pdf.output(str(tmp_path / "blanco.pdf"))

    with pytest.raises(DocumentRejected) as caught:
        load_document(tmp_path / "blanco.pdf")
    assert caught.value.key == "ingest.ocr_no_text"
    assert str(caught.value) == message("ingest.ocr_no_text")


@needs_font
def test_upload_check_accepts_a_scan_without_reading_it(tmp_path, monkeypatch):
    from ingest import IndexService, loaders

    monkeypatch.setattr(loaders, "scanned_page_texts", lambda *a: pytest.fail("OCR ran"))
    assert IndexService.readable_pages(_scanned_pdf(tmp_path / "escaneo.pdf", [CAFE])) == 1


@needs_font
def test_with_ocr_off_a_scan_is_rejected_saying_ocr_is_off(tmp_path):
    path = _scanned_pdf(tmp_path / "escaneo.pdf", [CAFE])
    with pytest.raises(DocumentRejected) as caught:
        load_document(path, ocr="off")
    assert caught.value.key == "ingest.textless_pdf_ocr_off"
    assert str(caught.value).startswith("el PDF no tiene texto seleccionable; se requiere OCR")
    assert "EXPORTA_OCR=off" in str(caught.value)


@needs_font
def test_with_ocr_off_a_mixed_pdf_keeps_only_its_text_page(tmp_path):
    path = _scanned_pdf(tmp_path / "mixto.pdf", ["Guía de exportación", QUINUA])
    document = load_document(path, ocr="off")
    assert document.ocr_pages == ()
    assert [p.text.strip() for p in document.pages] == ["Guía de exportación", ""]


@needs_font
def test_without_tesseract_a_scan_is_rejected_saying_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "sin-programas"))
    ocr_available.cache_clear()
    try:
        with pytest.raises(DocumentRejected) as caught:
            load_document(_scanned_pdf(tmp_path / "escaneo.pdf", [CAFE]))
    finally:
        ocr_available.cache_clear()
    assert caught.value.key == "ingest.textless_pdf"
    assert str(caught.value) == (
        "el PDF no tiene texto seleccionable; se requiere OCR "
        "(instale tesseract-ocr y tesseract-ocr-spa)"
    )
