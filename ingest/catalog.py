"""The corpus catalog (`catalog.toml`): titles, kinds, years and regions of known documents.

Staff edit it by hand; an upload adds or rewrites its own file's table with tomlkit, which keeps the
staff's comments, order and formatting."""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import tomlkit

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


def catalog_entry(doc_id: str, path: Path, fields: dict) -> dict | None:
    """The catalog entry a file at `path` needs, or None when its catalog already says it all."""
    existing = load_catalog([path.parent]).get(path.name) or {}
    entry = dict(existing)
    entry.update({k: v for k, v in fields.items() if v is not None})
    if slugify(path.stem) != doc_id:  # the file name alone would give another id
        entry["doc_id"] = doc_id
    return None if entry == existing else entry


def write_catalog_entry(path: Path, entry: dict) -> None:
    """Set the `[file name]` table of the catalog beside `path`; the rest of the file stays as is."""
    catalog = path.parent / CATALOG_FILE
    document = tomlkit.parse(catalog.read_text(encoding="utf-8")) if catalog.exists() else None
    document = document if document is not None else tomlkit.document()
    current = document.get(path.name)
    if current is not None and current.unwrap() == entry:
        return
    table = tomlkit.table()
    table.update(entry)
    document[path.name] = table
    text = tomlkit.dumps(document)
    tomllib.loads(text)  # never leave a catalog the next ingest cannot read
    part = catalog.with_name(f".{catalog.name}.part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, catalog)
