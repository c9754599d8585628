"""The web API's request and response models, with the Spanish descriptions shown at /docs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from retrieval.contract import EXAMPLE_QUESTION as QUESTION_EXAMPLE
from retrieval.contract import Turn

MAX_HISTORY_TURNS = 20
MAX_K = 50
# What a vote may carry: the judged question and answer as shown, and its sources' references.
MAX_VOTE_QUESTION = 4000
MAX_VOTE_ANSWER = 12_000
MAX_VOTE_SOURCES = 20


class AskRequest(BaseModel):
    """Una pregunta, con el historial de la conversación para las preguntas de seguimiento."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": QUESTION_EXAMPLE},
                {
                    "question": "¿y quién participa?",
                    "history": [{"question": QUESTION_EXAMPLE, "answer": "GERCETUR … [1]"}],
                    "k": 5,
                },
            ]
        },
    )

    question: str = Field(
        description="La pregunta en español (de 1 a 2000 caracteres).",
        examples=[QUESTION_EXAMPLE],
    )
    history: list[Turn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Turnos anteriores, del más antiguo al más reciente. Una pregunta corta "
        "(«¿y en 2025?») toma el tema de la última pregunta.",
    )
    k: StrictInt | None = Field(
        None, ge=1, le=MAX_K, description="Número de fuentes a recuperar (por defecto 5)."
    )


class DocumentVersionOut(BaseModel):
    content_hash: str = Field(description="SHA-256 del archivo de esa versión.")
    indexed_at: str = Field(description="Fecha y hora (ISO 8601, UTC).")
    indexed_by: str = Field(description="Canal que la indexó: web, telegram o cli.")
    chunks: int = Field(description="Pasajes de esa versión (0 si se quitó).")
    action: str = Field(description="added, replaced, removed o reindexed.")


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    kind: str = Field(description="perx, plan-operativo, pnmce, estudio, articulo o documento.")
    year: int | None
    region: str | None
    source: str = Field(description="Nombre del archivo de origen.")
    content_hash: str = Field(description="SHA-256 del archivo indexado.")
    chunks: int = Field(description="Número de pasajes indexados.")
    indexed_at: str = Field(description="Fecha y hora de indexación (ISO 8601, UTC).")
    version: str = Field(description="Versión del documento: hash del contenido y del proceso.")
    history: list[DocumentVersionOut] = Field(
        default_factory=list,
        description="Versiones indexadas, de la más reciente a la más antigua.",
    )


class DocumentsOut(BaseModel):
    documents: list[DocumentOut]


class PassageOut(BaseModel):
    chunk_id: str
    ordinal: int = Field(description="Posición del pasaje dentro del documento (desde 0).")
    page: int | None
    page_label: str | None = Field(description="Número de página impreso, si difiere del PDF.")
    section: str | None
    text: str


class PassageContextOut(BaseModel):
    """Un pasaje con sus vecinos, para leerlo en contexto."""

    doc_id: str
    title: str
    chunk: PassageOut
    previous: PassageOut | None = Field(description="El pasaje anterior del documento.")
    next: PassageOut | None = Field(description="El pasaje siguiente del documento.")


class DocumentDetailOut(DocumentOut):
    first_chunk_id: str | None = Field(description="El primer pasaje, para empezar a leer.")


class VoteSource(BaseModel):
    """Qué identifica una fuente citada (el texto del pasaje no hace falta y se ignora)."""

    n: int = Field(ge=1, le=1000, description="Número de la cita [n] en la respuesta.")
    doc_id: str = Field(max_length=200, description="Identificador del documento.")
    chunk_id: str = Field(max_length=200, description="Identificador del pasaje citado.")
    title: str = Field("", max_length=500, description="Título del documento.")
    page: int | None = Field(None, ge=0, le=100_000, description="Página del PDF, si se conoce.")
    section: str | None = Field(None, max_length=500, description="Sección, si se conoce.")


class FeedbackRequest(BaseModel):
    """Un 👍 o 👎 sobre una respuesta, con la pregunta y la respuesta tal como se mostraron."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": QUESTION_EXAMPLE,
                    "answer": "Proveer información de mercados destino … [1]",
                    "vote": -1,
                    "sources": [
                        {
                            "n": 1,
                            "doc_id": "perx-moquegua",
                            "chunk_id": "perx-moquegua-0123456789abcdef.2-0042",
                            "title": "Plan Regional Exportador de Moquegua (PERX Moquegua)",
                            "page": None,
                            "section": "Plan de acción",
                        }
                    ],
                    "question_id": 42,
                }
            ]
        }
    )

    question: str = Field(
        min_length=1, max_length=MAX_VOTE_QUESTION, description="La pregunta respondida."
    )
    answer: str = Field(
        min_length=1, max_length=MAX_VOTE_ANSWER, description="La respuesta que se valora."
    )
    vote: Literal[1, -1] = Field(description="1 = 👍 útil; -1 = 👎 no útil.")
    sources: list[VoteSource] = Field(
        default_factory=list,
        max_length=MAX_VOTE_SOURCES,
        description="Las fuentes de la respuesta (basta n, doc_id, chunk_id, title, page, "
        "section).",
    )
    question_id: int | None = Field(
        None,
        description="El id de la pregunta registrada: cabecera `X-Exporta-Question-Id` de "
        "/api/ask o `question_id` del evento `done` de /api/ask/stream. Sin él (o si no "
        "corresponde a una pregunta de este cliente), el voto se guarda sin ese enlace.",
    )

    @field_validator("vote", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        # Literal[1, -1] alone would take true and 1.0 as 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("vote must be 1 or -1")
        return value


class ErrorOut(BaseModel):
    detail: str = Field(description="Mensaje en español para mostrar al usuario.")
    code: str = Field(description="Código estable del error (p. ej. invalid_question).")
    errors: list[str] = Field(default_factory=list, description="Detalle por campo (solo 422).")


class StatusOut(BaseModel):
    status: str = Field(description="ok, o degraded si algo que no impide responder falla.")
    documents: int = 0
    chunks: int = 0
    degraded: dict[str, str] | None = Field(
        None, description="Lo que falla (p. ej. database) y por qué, en español."
    )
