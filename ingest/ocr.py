"""Text of scanned PDF pages: PDFium renders each page, the `tesseract` binary reads it in Spanish."""

from __future__ import annotations

import functools
import io
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

LANGUAGE = "spa"
DPI = 300
PAGE_TIMEOUT_SECONDS = 300


class OcrFailed(RuntimeError):
    """tesseract could not read a page (crashed or timed out)."""


@functools.cache
def ocr_available() -> bool:
    """True when the `tesseract` binary and its Spanish language data are installed."""
    binary = shutil.which("tesseract")
    if binary is None:
        return False
    try:
        listed = subprocess.run(
            [binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    # The list goes to stdout in tesseract 4 and 5; its first line is a header, not a language.
    return LANGUAGE in (listed.stdout + listed.stderr).split()


def scanned_page_texts(pdf_path: Path, numbers: list[int]) -> Iterator[tuple[int, str]]:
    """(page number, text) for each 1-based page in `numbers`, read by OCR one page at a time."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(pdf_path)
    except pdfium.PdfiumError as exc:
        raise OcrFailed(f"PDFium: {exc}") from exc
    try:
        for position, number in enumerate(numbers, start=1):
            started = time.perf_counter()
            try:
                page = document[number - 1]
                image = page.render(scale=DPI / 72, grayscale=True).to_pil()
                page.close()
            except pdfium.PdfiumError as exc:
                raise OcrFailed(f"PDFium, p. {number}: {exc}") from exc
            text = _tesseract(image)
            logger.info(
                "OCR %s p. %d (%d/%d): %d caracteres en %.1f s",
                pdf_path.name,
                number,
                position,
                len(numbers),
                len(text.strip()),
                time.perf_counter() - started,
            )
            yield number, text
    finally:
        document.close()


def _tesseract(image: object) -> str:
    """Spanish text of one page image, as tesseract prints it."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # type: ignore[attr-defined]
    # One thread per page: on a couple of cores OpenMP's threads mostly wait on each other.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    command = ["tesseract", "stdin", "stdout", "-l", LANGUAGE, "--dpi", str(DPI)]
    try:
        done = subprocess.run(
            command,
            input=buffer.getvalue(),
            capture_output=True,
            timeout=PAGE_TIMEOUT_SECONDS,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OcrFailed(str(exc)) from exc
    if done.returncode != 0:
        raise OcrFailed(done.stderr.decode("utf-8", "replace").strip()[-200:])
    return done.stdout.decode("utf-8", "replace")
