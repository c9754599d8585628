"""Loaders for .pdf (pypdf page by page, OCR for scanned pages), .txt and .md (HTML removed)."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

from ingest.ocr import OcrFailed, ocr_available, scanned_page_texts
from retrieval.errors import DocumentRejected
from retrieval.settings import OcrMode

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md")
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")
_TAB_MASK = "\x1e"
_SPACE_AROUND_TAB = re.compile(r" *\t *")
_HTML_BLOCKS = ("p", "li", "ol", "ul", "br", "div", "tr", "table", "h1", "h2", "h3", "h4")
# Fewer letters than this on an OCR'd page is scanner noise (specks, a stamp), not text.
MIN_OCR_LETTERS = 12


@dataclass(frozen=True)
class Page:
    number: int | None  # 1-based page of a PDF; None for text formats
    label: str | None  # the PDF's own page label, when it differs from the number
    text: str


@dataclass(frozen=True)
class LoadedDocument:
    path: Path
    fmt: str  # "pdf", "txt" or "md"
    pages: list[Page]
    content_hash: str
    ocr_pages: tuple[int, ...] = ()  # pages without a text layer, read (or left) for OCR


def content_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_document(path: Path, ocr: OcrMode = "auto") -> LoadedDocument:
    """Read one file; raise DocumentRejected with a Spanish reason when it cannot be indexed.

    `ocr` ("auto" or "off", the EXPORTA_OCR setting) decides whether PDF pages without a text
    layer are read with tesseract; pages that have text are always taken as they are.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentRejected("ingest.unsupported_type", suffix=suffix or "sin extensión")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    ocr_pages: tuple[int, ...] = ()
    if suffix == ".pdf":
        pages, ocr_pages = _with_ocr(path, _pdf_pages(path), ocr)
    else:
        text = _decode(data)
        if suffix == ".md":
            text = strip_html(text)
        pages = [Page(None, None, text)]
    if not ocr_pages and not any(p.text.strip() for p in pages):
        raise DocumentRejected("ingest.empty_document")
    return LoadedDocument(path, suffix.lstrip("."), pages, digest, ocr_pages)


def pdf_page_count(path: Path) -> int:
    """The pages of a PDF from its structure alone (no page is decoded, so it takes
    milliseconds whatever the content streams hold); DocumentRejected if it is encrypted or
    its structure is damaged. Whether the pages have text is found when they are read."""
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        pages = len(_open_pdf(path).pages)
    except FileNotDecryptedError as exc:
        raise DocumentRejected("ingest.encrypted_pdf") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentRejected("ingest.corrupt_pdf", reason=str(exc)[:120]) from exc
    if not pages:
        raise DocumentRejected("ingest.empty_document")
    return pages


def _open_pdf(path: Path):
    """A PdfReader, or DocumentRejected for a PDF that needs a password."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise DocumentRejected("ingest.encrypted_pdf")
    return reader


def _pdf_pages(path: Path) -> list[Page]:
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = _open_pdf(path)
        labels = list(reader.page_labels)
        pages = []
        for index, page in enumerate(reader.pages):
            text = page.extract_text(extraction_mode="layout") or ""
            label = labels[index] if index < len(labels) else None
            pages.append(Page(index + 1, label if label != str(index + 1) else None, text))
    except FileNotDecryptedError as exc:
        raise DocumentRejected("ingest.encrypted_pdf") from exc
    except DocumentRejected:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentRejected("ingest.corrupt_pdf", reason=str(exc)[:120]) from exc
    return pages


def _with_ocr(path: Path, pages: list[Page], mode: OcrMode) -> tuple[list[Page], tuple[int, ...]]:
    """The pages, text-less ones read by OCR when it is on and installed; and the OCR'd numbers."""
    blank = [p.number for p in pages if p.number is not None and not p.text.strip()]
    has_text = len(blank) < len(pages)
    if not blank or mode == "off" or not ocr_available():
        if has_text:
            return pages, ()  # blank pages of a text PDF stay blank, as before OCR existed
        key = "ingest.textless_pdf_ocr_off" if mode == "off" else "ingest.textless_pdf"
        raise DocumentRejected(key)
    logger.info("OCR de %s: %d de %d páginas sin texto", path.name, len(blank), len(pages))
    read: dict[int, str] = {}
    try:
        for number, text in scanned_page_texts(path, blank):
            if sum(ch.isalpha() for ch in text) >= MIN_OCR_LETTERS:
                read[number] = text
    except OcrFailed as exc:
        if has_text:  # the real text pages still make a useful document
            logger.warning("OCR de %s falló; se indexa sin sus páginas escaneadas: %s", path, exc)
            return pages, ()
        raise DocumentRejected("ingest.ocr_failed", reason=str(exc)[:120]) from exc
    if not has_text and not read:
        raise DocumentRejected("ingest.ocr_no_text")
    pages = [Page(p.number, p.label, read[p.number]) if p.number in read else p for p in pages]
    return pages, tuple(sorted(read))


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252; binary or garbled input is rejected."""
    if b"\x00" in data:
        raise DocumentRejected("ingest.undecodable_text")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
        if controls <= len(text) // 1000:
            return text
    raise DocumentRejected("ingest.undecodable_text")


def strip_html(markdown: str) -> str:
    """Remove HTML leftovers (<b>, <sup>, <p>, <ol>, …) from Markdown, keeping their text.

    Only lines that contain tags go through the parser, so Markdown and text such as
    'Micro<=150 UIT' elsewhere are left exactly as written.
    """
    return "\n".join(
        _strip_line(line) if _HTML_TAG.search(line) else line for line in markdown.split("\n")
    )


def _strip_line(line: str) -> str:
    # Tabs separate table cells; the parser would fold them into spaces, so they travel masked.
    soup = BeautifulSoup(line.replace("\t", _TAB_MASK), "html.parser")
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before(" ")
        tag.insert_after(" ")
    for tag in soup.find_all("sup"):
        tag.insert_before(" ")
    return _SPACE_AROUND_TAB.sub("\t", soup.get_text().replace(_TAB_MASK, "\t"))
