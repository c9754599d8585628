"""The few types every layer shares: what is indexed, what is cited, what is answered."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer


class Chunk(BaseModel):
    """One indexed passage of a document, with the metadata needed to cite it."""

    model_config = ConfigDict(frozen=True)

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
        data = self.model_dump(exclude={"text", "chunk_id"})
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


class _Fact(BaseModel):
    """Structure read at ingestion: copied from the text as written, absent fields left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceCard(_Fact):
    """Una ficha de servicio de la PNMCE, con el proveedor separado en responsable y participantes."""

    type: Literal["servicio"] = "servicio"
    name: str = Field(description="Nombre del servicio, con su código.")
    code: str | None = Field(None, description="Código del servicio (S5.2.1).")
    objective: str | None = Field(None, description="Objetivo prioritario.")
    objective_code: str | None = Field(None, description="Código del objetivo (OP5).")
    guideline: str | None = Field(None, description="Lineamiento.")
    provider: str | None = Field(None, description="Proveedor del servicio, como está escrito.")
    responsible: str | None = Field(None, description="Entidad responsable.")
    participants: list[str] | None = Field(None, description="Entidades que participan.")
    receiver: str | None = Field(None, description="Receptor del servicio.")
    scope: str | None = Field(None, description="Alcance del servicio.")
    quality_indicator: str | None = Field(None, description="Indicador de calidad.")
    coverage_indicator: str | None = Field(None, description="Indicador de cobertura.")


class ObjectiveRow(_Fact):
    """Una fila de la tabla de objetivos prioritarios (OP1–OP5)."""

    code: str = Field(description="Código del objetivo (OP3).")
    objective: str
    responsible: str
    indicators: list[str]
    baseline: list[str] | None = Field(None, description="«año: valor» de cada indicador.")
    expected: list[str] | None = Field(None, description="Logro esperado de cada indicador.")


class IndicatorValues(_Fact):
    """Los valores de una ficha de indicador en una unidad, por año."""

    unit: str = Field(description="Valor absoluto (número), Valor relativo (%)…")
    baseline: str = Field(description="«año: valor» de la línea de base.")
    expected: list[str] = Field(description="«año: valor» de cada logro esperado.")


class IndicatorCard(_Fact):
    """Una ficha de indicador: su nombre y sus valores."""

    name: str
    values: list[IndicatorValues]


class Facts(_Fact):
    """Lo que un pasaje contiene de una ficha de servicio, la tabla de objetivos o una ficha de
    indicador."""

    servicio: ServiceCard | None = None
    objetivos: list[ObjectiveRow] | None = None
    indicador: IndicatorCard | None = None

    def to_json(self) -> str:
        """As stored with the chunk: absent fields left out, keys sorted."""
        return json.dumps(self.model_dump(exclude_none=True), ensure_ascii=False, sort_keys=True)


CITATION = re.compile(r"\[(\d+)\]")  # "[2]" in an answer: its source number
EXAMPLE_QUESTION = (
    "¿Quién es responsable de proveer información de mercados destino en el PERX Moquegua?"
)


class Source(BaseModel):
    """Un pasaje citado: el número [n] de la respuesta, el documento y dónde está."""

    n: int = Field(description="Número de la cita [n] en la respuesta.")
    doc_id: str = Field(description="Identificador del documento.")
    title: str = Field(description="Título del documento.")
    page: int | None = Field(None, description="Página del PDF, si se conoce.")
    section: str | None = Field(None, description="Sección o capítulo, si se conoce.")
    chunk_id: str = Field(description="Identificador del pasaje citado.")
    text: str = Field("", description="Texto del pasaje.")
    score: float = Field(0.0, description="Puntaje de recuperación (mayor es mejor).")
    facts: Facts | None = Field(
        None,
        description="Estructura leída al indexar: ficha de servicio (`servicio`), objetivos "
        "prioritarios (`objetivos`) o valores de una ficha de indicador (`indicador`).",
    )

    @field_serializer("facts")
    def _present_facts(self, facts: Facts | None) -> dict[str, Any] | None:
        return None if facts is None else facts.model_dump(exclude_none=True)

    def citation(self) -> str:
        """Where the passage is, for people: page when known, else the section."""
        if self.page is not None:
            return f"{self.title}, p. {self.page}"
        if self.section:
            return f"{self.title}, {self.section}"
        return self.title


def cited_sources(text: str, sources: list[Source]) -> list[Source]:
    """The sources `text` cites with [n], or all of them when it cites none (every channel)."""
    numbers = {int(n) for n in CITATION.findall(text)}
    return [s for s in sources if s.n in numbers] or list(sources)


class Answer(BaseModel):
    """El contrato de respuesta (el mismo que `exporta ask --json`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": EXAMPLE_QUESTION,
                    "answer": "Proveer información de mercados destino a través de la articulación "
                    "entre GERCETUR, OCER Tacna y OCEX. [1]",
                    "abstained": False,
                    "sources": [
                        {
                            "n": 1,
                            "doc_id": "perx-moquegua",
                            "title": "Plan Regional Exportador de Moquegua (PERX Moquegua)",
                            "page": None,
                            "section": "Plan de acción",
                            "chunk_id": "perx-moquegua-0123456789abcdef.2-0042",
                            "text": "Proveer información de mercados destino …",
                            "score": 0.0325,
                        }
                    ],
                    "timings_ms": {"retrieve": 41.2, "answer": 3.1, "total": 44.3},
                }
            ]
        }
    )

    question: str = Field(description="La pregunta tal como se respondió (espacios normalizados).")
    answer: str = Field(description="Respuesta con citas [n], o el aviso de que no hay respuesta.")
    abstained: bool = Field(description="Verdadero si los documentos no responden la pregunta.")
    sources: list[Source] = Field(
        default_factory=list, description="Fuentes numeradas; con abstención, las más cercanas."
    )
    timings_ms: dict[str, float] = Field(
        default_factory=dict, description="Tiempos en milisegundos: retrieve, answer, total."
    )
    written_by: Literal["quotes", "llm"] = Field(
        "quotes",
        description="quotes: frases citadas de los documentos; llm: redactada por el modelo "
        "de lenguaje configurado y comprobada contra los pasajes.",
    )
    dropped_sentences: int = Field(
        0, description="Frases del modelo descartadas por no estar respaldadas por sus pasajes."
    )

    def cited_sources(self) -> list[Source]:
        """The sources the answer cites; all of them for an abstention (the nearest ones)."""
        return list(self.sources) if self.abstained else cited_sources(self.answer, self.sources)


class Turn(BaseModel):
    """Una pregunta anterior de la conversación y su respuesta."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(description="Pregunta anterior del usuario.")
    answer: str = Field("", description="Respuesta que dio el asistente a esa pregunta.")
