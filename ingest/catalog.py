"""The corpus catalog (`catalog.toml`): titles, kinds, years and regions of known documents."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

CATALOG_FILE = "catalog.toml"


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    title: str
    kind: str
    year: int | None
    region: str | None


def slugify(text: str) -> str:
    """A stable, URL-safe id: 'PNMCE 2040.md' -> 'pnmce-2040'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "documento"


def load_catalog(folders: list[Path]) -> dict[str, dict]:
    """Entries of every `catalog.toml` found in the given folders, keyed by file name."""
    entries: dict[str, dict] = {}
    for folder in folders:
        path = folder / CATALOG_FILE
        if path.is_file():
            with path.open("rb") as fh:
                entries.update(tomllib.load(fh))
    return entries


def describe(path: Path, catalog: dict[str, dict]) -> DocumentInfo:
    """Catalog metadata for a file, or a title and year derived from its name."""
    entry = catalog.get(path.name, {})
    year = entry.get("year")
    if year is None and (match := re.search(r"(19|20)\d{2}", path.stem)):
        year = int(match.group(0))
    derived_title = re.sub(r"[-_]+", " ", path.stem).strip().capitalize()
    return DocumentInfo(
        doc_id=entry.get("doc_id") or slugify(path.stem),
        title=entry.get("title") or derived_title,
        kind=entry.get("kind", "documento"),
        year=year,
        region=entry.get("region"),
    )
