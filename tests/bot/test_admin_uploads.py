"""Staff uploads are checked before anything is touched: real PDFs, real text, hostile names."""

import io
import zipfile

import pytest

from bot.admin.uploads import Upload, UploadRejected, inside, validate_upload
from bot.settings import load_settings
from prompts import message

PDF_LINES = [["Requisitos para exportar cacao a la Unión Europea.", "Certificado de origen."]]
TEXT = "El cacao fino de aroma de Piura se exporta a Bélgica."


@pytest.fixture
def settings(tmp_path):
    return load_settings(
        data_dir=tmp_path / "data", corpus_dir=tmp_path / "corpus", max_upload_mb=1
    )


@pytest.fixture
def pdf_bytes(tmp_path, pdf_builder):
    return pdf_builder(tmp_path / "origen.pdf", PDF_LINES).read_bytes()


def rejected(upload: Upload, settings) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        validate_upload(upload, settings)
    return caught.value


def test_a_real_pdf_is_accepted_with_a_safe_name_and_its_hash(settings, pdf_bytes, tmp_path):
    valid = validate_upload(Upload("Informe Cacao 2024 (versión final).pdf", pdf_bytes), settings)
    assert (valid.filename, valid.fmt, valid.pages) == (
        "Informe-Cacao-2024-version-final.pdf",
        "pdf",
        1,
    )
    assert len(valid.content_hash) == 64
    assert not (tmp_path / "corpus").exists() and not (tmp_path / "data").exists()


def test_type_comes_from_the_content_not_the_name(settings, pdf_bytes):
    assert validate_upload(Upload("informe.txt", pdf_bytes), settings).filename == "informe.pdf"
    text = TEXT.encode("cp1252")  # Windows-1252 text is text too
    assert validate_upload(Upload("notas.md", text), settings).fmt == "md"
    assert validate_upload(Upload("notas.pdf", text), settings).filename == "notas.txt"


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("foto.pdf", PNG),
        ("informe.docx", zip_bytes()),
        ("informe.pdf", zip_bytes()),
        ("datos.txt", b"texto\x00binario"),
    ],
)
def test_other_formats_are_refused_by_their_content(settings, name, data):
    error = rejected(Upload(name, data), settings)
    assert error.code == "unsupported_type" and error.filename == name
    assert str(error) == message(
        "admin.upload_rejected", filename=name, reason=message("admin.unsupported_content")
    )


def test_an_oversized_upload_is_refused_before_it_is_read(settings):
    error = rejected(Upload("grande.txt", b"a" * (1024 * 1024 + 1)), settings)
    assert error.code == "too_large"
    assert "el máximo es 1 MB" in str(error)


def test_an_empty_upload_is_refused(settings):
    assert rejected(Upload("vacio.txt", b""), settings).code == "empty"
    assert rejected(Upload("blanco.txt", b"   \n\n"), settings).code == "empty"


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.pdf",
        "/etc/passwd.pdf",
        "..\\..\\boot.ini.txt",
        "C:\\Windows\\x.txt",
        "..",
        "....",
        "",
        "nul\x00.pdf",
    ],
)
def test_paths_and_empty_names_are_refused(settings, name, pdf_bytes):
    error = rejected(Upload(name, pdf_bytes), settings)
    assert error.code == "bad_name"
    assert "\x00" not in str(error)


def test_a_folder_in_the_name_keeps_only_the_file_name(settings, pdf_bytes):
    valid = validate_upload(Upload("mis documentos/plan año 2030.pdf", pdf_bytes), settings)
    assert valid.filename == "plan-ano-2030.pdf"
    # and the refusal of a path says so, instead of claiming every path is refused
    assert "se toma solo «informe.pdf»" in message("admin.bad_name")


def test_a_hidden_name_becomes_a_visible_one(settings, pdf_bytes):
    # ingest skips hidden files: an upload must never become one
    assert validate_upload(Upload(".oculto.pdf", pdf_bytes), settings).filename == "oculto.pdf"


def test_nothing_lands_outside_the_corpus_folder(tmp_path):
    corpus = tmp_path / "corpus"
    assert inside(corpus, "plan.pdf") == (corpus / "plan.pdf").resolve()
    for name in ("../plan.pdf", "/tmp/plan.pdf", "sub/plan.pdf"):
        with pytest.raises(UploadRejected):
            inside(corpus, name)


def test_an_encrypted_pdf_is_refused(settings, tmp_path, pdf_builder):
    data = pdf_builder(tmp_path / "c.pdf", PDF_LINES, user_password="secreto").read_bytes()
    error = rejected(Upload("cifrado.pdf", data), settings)
    assert error.code == "encrypted"
    assert message("ingest.encrypted_pdf") in str(error)


def test_a_corrupt_pdf_is_refused(settings, pdf_bytes):
    error = rejected(Upload("roto.pdf", pdf_bytes[: len(pdf_bytes) // 3]), settings)
    assert error.code == "corrupt"
    assert str(error).startswith("No se puede indexar «roto.pdf»: el PDF está dañado")


def test_a_pdf_without_a_text_layer_is_left_to_the_job(settings, tmp_path, monkeypatch):
    from fpdf import FPDF
    from pypdf import PageObject

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a scanned page: marks, no text
    path = tmp_path / "escaneado.pdf"
    pdf.output(str(path))
    monkeypatch.setattr(PageObject, "extract_text", lambda *a, **k: pytest.fail("page read"))
    # Its pages are read (and OCR'd, or refused with OCR off) by the indexing job.
    no_ocr = settings.model_copy(update={"ocr": "off"})
    assert validate_upload(Upload("escaneado.pdf", path.read_bytes()), no_ocr).pages == 1
