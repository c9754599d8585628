"""Staff uploads, checked before anything is touched: size, type by content, safe name, text.

The type comes from the bytes, never from the name: a PDF starts with `%PDF-`; anything else must
read as text (UTF-8 or Windows-1252, no NUL bytes) and is then `.md` or `.txt` by its extension.
The file is checked with the very loader indexing uses (from a private temporary folder), so an
encrypted or damaged PDF is refused here with the same Spanish reason. Only checks that take
milliseconds run while the staff member waits: a PDF's pages are read (text, OCR) by the job,
with its progress shown, and a text-less one fails the job with nothing changed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bot.settings import Settings
from ingest import IndexService
from prompts import message
from retrieval.errors import DocumentRejected, ExportaError

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
# Magic numbers of formats people send by mistake; they would otherwise "decode" as CP1252 text.
_BINARY_MAGIC = (
    b"PK\x03\x04",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\xd0\xcf\x11\xe0",
    b"{\\rtf",
)
# DocumentRejected keys of the loader -> stable codes of an upload rejection.
_LOADER_CODES = {
    "ingest.encrypted_pdf": "encrypted",
    "ingest.corrupt_pdf": "corrupt",
    "ingest.textless_pdf": "no_text",
    "ingest.textless_pdf_ocr_off": "no_text",
    "ingest.ocr_no_text": "no_text",
    "ingest.ocr_failed": "no_text",
    "ingest.undecodable_text": "unsupported_type",
    "ingest.empty_document": "empty",
}


@dataclass(frozen=True)
class Upload:
    """A document as sent by a staff member; every field is untrusted."""

    filename: str
    data: bytes
    title: str | None = None
    kind: str | None = None
    year: int | None = None
    region: str | None = None


@dataclass(frozen=True)
class ValidatedUpload:
    """An upload that passed every check: a safe file name and a loadable document."""

    upload: Upload
    filename: str  # safe: a plain name with the suffix of the content (.pdf, .txt or .md)
    fmt: str  # "pdf", "txt" or "md"
    content_hash: str  # sha256 of the bytes, as the index records it
    pages: int


class UploadRejected(ExportaError):
    """An upload refused before anything is written; str(exc) is the Spanish reason."""

    def __init__(self, code: str, filename: str, reason: str) -> None:
        self.code = code
        self.filename = filename
        self.reason = reason
        super().__init__("admin.upload_rejected", filename=filename, reason=reason)


def validate_upload(upload: Upload, settings: Settings) -> ValidatedUpload:
    """The upload checked and named safely, or UploadRejected; nothing is touched yet."""
    shown = _printable(upload.filename)
    size = len(upload.data)
    limit = settings.max_upload_mb * 1024 * 1024
    if size > limit:
        reason = message(
            "admin.too_large", size_mb=f"{size / 1024 / 1024:.1f}", limit_mb=settings.max_upload_mb
        )
        raise UploadRejected("too_large", shown, reason)
    if size == 0:
        raise UploadRejected("empty", shown, message("admin.empty_upload"))
    stem, suffix = _split_name(upload.filename, shown)
    fmt = _sniff(upload.data, suffix, shown)
    filename = f"{stem}.{fmt}"
    pages = _load(filename, upload.data, shown)
    digest = hashlib.sha256(upload.data).hexdigest()
    return ValidatedUpload(upload, filename, fmt, digest, pages)


def safe_filename(filename: str) -> str:
    """A plain, safe file name (no folders, ASCII letters, digits, '.', '-', '_'), or UploadRejected."""
    stem, suffix = _split_name(filename, _printable(filename))
    return stem + suffix


def inside(folder: Path, name: str) -> Path:
    """`folder/name`, resolved, refusing anything that would land outside `folder`."""
    root = folder.resolve()
    target = (root / name).resolve()
    if target.parent != root:
        raise UploadRejected("bad_name", _printable(name), message("admin.bad_name"))
    return target


def _split_name(filename: str, shown: str) -> tuple[str, str]:
    """The safe stem and lower-case suffix; a path, a traversal or an empty name is refused."""
    raw = filename.replace("\\", "/")
    parts = PurePosixPath(raw).parts
    traversal = any(part in ("..", ".") for part in raw.split("/"))
    if "\x00" in raw or raw.startswith("/") or _WINDOWS_DRIVE.match(raw) or traversal or not parts:
        raise UploadRejected("bad_name", shown, message("admin.bad_name"))
    ascii_name = unicodedata.normalize("NFKD", parts[-1]).encode("ascii", "ignore").decode()
    name = _UNSAFE.sub("-", ascii_name).strip(".-_ ")
    path = PurePosixPath(name)
    stem, suffix = path.stem.strip(".-_")[:MAX_NAME_CHARS], path.suffix.lower()
    if not stem:
        raise UploadRejected("bad_name", shown, message("admin.bad_name"))
    return stem, suffix


def _sniff(data: bytes, suffix: str, shown: str) -> str:
    """'pdf', 'md' or 'txt' from the content; the extension only tells Markdown from plain text."""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(_BINARY_MAGIC) or b"\x00" in data:
        raise UploadRejected("unsupported_type", shown, message("admin.unsupported_content"))
    return "md" if suffix in (".md", ".markdown") else "txt"


def _load(filename: str, data: bytes, shown: str) -> int:
    """Pages of the document, checked in milliseconds by the indexer's loader (from a private
    temporary copy); a PDF's text is read by the job."""
    with tempfile.TemporaryDirectory(prefix="exporta-upload-") as folder:
        path = Path(folder) / filename
        path.write_bytes(data)
        try:
            return IndexService.readable_pages(path)
        except DocumentRejected as exc:
            code = _LOADER_CODES.get(exc.key, "corrupt")
            if code == "unsupported_type":
                raise UploadRejected(code, shown, message("admin.unsupported_content")) from exc
            raise UploadRejected(code, shown, str(exc)) from exc


def _printable(filename: str) -> str:
    """The client's name, safe to show back in a message or a log line."""
    cleaned = "".join(ch for ch in filename if ch.isprintable())
    return cleaned[:MAX_NAME_CHARS] or "?"
