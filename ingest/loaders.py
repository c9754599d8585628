"""Loaders for .pdf (pypdf, page by page), .txt and .md (HTML leftovers removed with a parser)."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

from retrieval.errors import DocumentRejected

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md")
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")
_TAB_MASK = "\x1e"
_SPACE_AROUND_TAB = re.compile(r" *\t *")
_HTML_BLOCKS = ("p", "li", "ol", "ul", "br", "div", "tr", "table", "h1", "h2", "h3", "h4")


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


def content_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_document(path: Path) -> LoadedDocument:
    """Read one file; raise DocumentRejected with a Spanish reason when it cannot be indexed."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentRejected("ingest.unsupported_type", suffix=suffix or "sin extensión")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if suffix == ".pdf":
        pages = _pdf_pages(path)
    else:
        text = _decode(data)
        if suffix == ".md":
            text = strip_html(text)
        pages = [Page(None, None, text)]
    if not any(p.text.strip() for p in pages):
        raise DocumentRejected("ingest.empty_document")
    return LoadedDocument(path, suffix.lstrip("."), pages, digest)


def _pdf_pages(path: Path) -> list[Page]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentRejected("ingest.encrypted_pdf")
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
    if not any(p.text.strip() for p in pages):
        raise DocumentRejected("ingest.textless_pdf")
    return pages


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
