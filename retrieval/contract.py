"""The few types every layer shares: what is indexed, what is cited, what is answered."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """One indexed passage of a document, with the metadata needed to cite it."""

    chunk_id: str
    doc_id: str
    text: str
    title: str
    kind: str
    year: int | None
    region: str | None
    page: int | None
    page_label: str | None
    section: str | None
    doc_version: str  # content hash + pipeline version of the document this chunk belongs to
    ordinal: int
    columns: str | None = None  # the years heading the table the chunk's rows belong to
    facts: str | None = None  # JSON of the structure read at ingestion (ingest/structure.py)
    units: str | None = None  # JSON of the answer units cut at ingestion (retrieval/units.py)
    unit_vectors: str | None = None  # their e5 vectors, float16, base64

    @property
    def context(self) -> str:
        """Title and section path, prepended to the text for embedding and BM25."""
        parts = [self.title] + ([self.section] if self.section else [])
        return " > ".join(parts)

    @property
    def indexed_text(self) -> str:
        return f"{self.context}\n{self.text}"

    def metadata(self) -> dict[str, Any]:
        """Chroma metadata: scalars only, no None values."""
        data = asdict(self)
        del data["text"], data["chunk_id"]
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_store(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        return cls(
            chunk_id=chunk_id,
            doc_id=meta["doc_id"],
            text=text,
            title=meta["title"],
            kind=meta.get("kind", "documento"),
            year=meta.get("year"),
            region=meta.get("region"),
            page=meta.get("page"),
            page_label=meta.get("page_label"),
            section=meta.get("section"),
            doc_version=meta["doc_version"],
            ordinal=meta.get("ordinal", 0),
            columns=meta.get("columns"),
            facts=meta.get("facts"),
            units=meta.get("units"),
            unit_vectors=meta.get("unit_vectors"),
        )


@dataclass(frozen=True)
class DocumentRecord:
    """The manifest entry of one indexed document."""

    doc_id: str
    title: str
    kind: str
    year: int | None
    region: str | None
    source: str
    content_hash: str
    chunks: int
    indexed_at: str
    pipeline: str = ""  # version of cleaning + chunking that produced the chunks

    @property
    def version(self) -> str:
        """What makes a document version: its bytes and the pipeline that chunked them."""
        return document_version(self.content_hash, self.pipeline)


def document_version(content_hash: str, pipeline: str) -> str:
    return f"{content_hash[:16]}.{pipeline}"


@dataclass
class Source:
    n: int
    doc_id: str
    title: str
    page: int | None
    section: str | None
    chunk_id: str
    text: str
    score: float
    facts: dict[str, Any] | None = None  # structure read at ingestion (service card, OP, indicator)

    def citation(self) -> str:
        """Where the passage is, for people: page when known, else the section."""
        if self.page is not None:
            return f"{self.title}, p. {self.page}"
        if self.section:
            return f"{self.title}, {self.section}"
        return self.title


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    sources: list[Source] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON answer contract shared by the CLI and the web API."""
        return asdict(self)


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, for follow-up questions."""

    question: str
    answer: str = ""
