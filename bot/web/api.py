"""The JSON API: a thin translation between HTTP and `AnswerService`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from bot.web.errors import ApiError, describe_domain_error, error_body, index_missing
from bot.web.passages import PassageIndex
from bot.web.schemas import (
    AnswerOut,
    AskRequest,
    DocumentDetailOut,
    DocumentsOut,
    ErrorOut,
    PassageContextOut,
    StatusOut,
)
from bot.web.sse import SSE_HEADERS, answer_pieces, sse_event
from prompts import message
from retrieval.contract import Answer, Chunk, DocumentRecord
from retrieval.errors import ExportaError
from retrieval.service import AnswerService

logger = logging.getLogger(__name__)

# CPU-bound answers run in a few threads: more would only queue inside the 2-4 cores.
ANSWER_THREADS = 4

STREAM_EXAMPLE = (
    'event: sources\ndata: [{"n": 1, "doc_id": "perx-moquegua", "title": "…", "page": null, '
    '"section": "…", "chunk_id": "…", "text": "…", "score": 0.03}]\n\n'
    'event: token\ndata: {"text": "Proveer información de mercados destino … [1] "}\n\n'
    'event: done\ndata: {"question": "…", "answer": "…", "abstained": false, "sources": […], '
    '"timings_ms": {…}}\n\n'
)

ERRORS = {
    413: {"model": ErrorOut, "description": "Cuerpo demasiado grande."},
    422: {"model": ErrorOut, "description": "Pregunta vacía, demasiado larga o JSON mal formado."},
    429: {"model": ErrorOut, "description": "Demasiadas preguntas; ver la cabecera Retry-After."},
    503: {"model": ErrorOut, "description": "Aún no hay índice (ejecuta `exporta ingest`)."},
}

router = APIRouter()


def get_service(request: Request) -> AnswerService:
    service = request.app.state.service
    if service is None:
        raise index_missing()
    return service


def check_rate_limit(request: Request) -> None:
    limiter = request.app.state.rate_limiter
    client = request.client.host if request.client else "local"
    wait = limiter.check(client)
    if wait:
        detail = message("web.rate_limited", limit=limiter.limit, seconds=wait)
        raise ApiError(429, "rate_limited", detail, headers={"Retry-After": str(wait)})


Service = Annotated[AnswerService, Depends(get_service)]


async def _answer(request: Request, service: AnswerService, body: AskRequest) -> Answer:
    state = request.app.state
    if state.answer_limiter is None:  # created here: it needs the running event loop
        state.answer_limiter = anyio.CapacityLimiter(ANSWER_THREADS)
    return await anyio.to_thread.run_sync(
        lambda: service.answer(body.question, body.turns(), body.k), limiter=state.answer_limiter
    )


@router.post(
    "/api/ask",
    response_model=AnswerOut,
    responses=ERRORS,
    dependencies=[Depends(check_rate_limit)],
    summary="Responder una pregunta",
    tags=["preguntas"],
)
async def ask(request: Request, body: AskRequest, service: Service) -> dict:
    """Responde con citas [n] a los documentos oficiales, o dice honestamente que no encontró
    la respuesta (`abstained`) y muestra las fuentes más cercanas."""
    answer = await _answer(request, service, body)
    return answer.to_dict()


@router.post(
    "/api/ask/stream",
    responses={
        200: {
            "content": {"text/event-stream": {"example": STREAM_EXAMPLE}},
            "description": "Eventos: `sources` (lista de fuentes), luego `token` "
            '(`{"text": …}`, trozos de la respuesta que nunca cortan una cita), y al final '
            "`done` (la respuesta completa, como en /api/ask) o `error` (`{detail, code}`).",
        },
        **ERRORS,
    },
    dependencies=[Depends(check_rate_limit)],
    summary="Responder una pregunta, en streaming (Server-Sent Events)",
    tags=["preguntas"],
)
async def ask_stream(request: Request, body: AskRequest, service: Service) -> StreamingResponse:
    """Igual que /api/ask, pero la respuesta llega como eventos SSE para mostrarla mientras
    se genera. Los errores de validación responden 422 antes de abrir el stream."""
    service.validate(body.question)

    async def events() -> AsyncIterator[str]:
        try:
            answer = await _answer(request, service, body)
        except ExportaError as exc:
            _, code, detail = describe_domain_error(exc)
            yield sse_event("error", error_body(code, detail))
            return
        except Exception:
            logger.exception("Streamed answer failed")
            yield sse_event("error", error_body("internal_error", message("web.internal_error")))
            return
        data = answer.to_dict()
        yield sse_event("sources", data["sources"])
        for piece in answer_pieces(answer.answer):
            yield sse_event("token", {"text": piece})
        yield sse_event("done", data)

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.get(
    "/api/documents",
    response_model=DocumentsOut,
    responses={503: ERRORS[503]},
    summary="Documentos indexados",
    tags=["documentos"],
)
async def documents(service: Service) -> dict:
    """Los documentos que el asistente puede citar: título, tipo, año, pasajes, fecha de
    indexación y hash del contenido."""
    records = await anyio.to_thread.run_sync(service.documents)
    return {"documents": [_document(r) for r in records]}


@router.get(
    "/api/documents/{doc_id}",
    response_model=DocumentDetailOut,
    responses={404: {"model": ErrorOut}, 503: ERRORS[503]},
    summary="Un documento",
    tags=["documentos"],
)
async def document(request: Request, doc_id: str, service: Service) -> dict:
    """Los datos de un documento y su primer pasaje."""
    record = await _record(service, doc_id)
    first = _passages(request, service).first_chunk_id(doc_id)
    return {**_document(record), "first_chunk_id": first}


@router.get(
    "/api/documents/{doc_id}/chunks/{chunk_id}",
    response_model=PassageContextOut,
    responses={404: {"model": ErrorOut}, 503: ERRORS[503]},
    summary="Un pasaje con sus vecinos",
    tags=["documentos"],
)
async def chunk(request: Request, doc_id: str, chunk_id: str, service: Service) -> dict:
    """El pasaje citado (`chunk_id` de una fuente) con el anterior y el siguiente del mismo
    documento, para leerlo en contexto."""
    context = _passages(request, service).context(doc_id, chunk_id)
    if context is None:
        await _record(service, doc_id)  # an unknown document gets its own message
        detail = message("web.chunk_not_found", doc_id=doc_id, chunk_id=chunk_id)
        raise ApiError(404, "chunk_not_found", detail)
    return {
        "doc_id": doc_id,
        "title": context.chunk.title,
        "chunk": _passage(context.chunk),
        "previous": _passage(context.previous),
        "next": _passage(context.next),
    }


@router.get(
    "/healthz",
    response_model=StatusOut,
    response_model_exclude_unset=True,
    summary="El proceso está vivo",
    tags=["estado"],
)
async def healthz() -> dict:
    """Responde 200 mientras el proceso web esté en marcha, haya o no índice."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=StatusOut,
    responses={503: ERRORS[503]},
    summary="El índice está listo",
    tags=["estado"],
)
async def readyz(request: Request) -> JSONResponse:
    """200 si el índice está abierto y tiene documentos; 503 si no (con el motivo en español)."""
    service = request.app.state.service
    if service is None:
        raise index_missing()
    records = await anyio.to_thread.run_sync(service.documents)
    if not records:
        raise index_missing()
    chunks = sum(r.chunks for r in records)
    return JSONResponse({"status": "ok", "documents": len(records), "chunks": chunks})


async def _record(service: AnswerService, doc_id: str) -> DocumentRecord:
    records = await anyio.to_thread.run_sync(service.documents)
    for record in records:
        if record.doc_id == doc_id:
            return record
    raise ApiError(404, "document_not_found", message("web.document_not_found", doc_id=doc_id))


def _passages(request: Request, service: AnswerService) -> PassageIndex:
    return request.app.state.passages


def _document(record: DocumentRecord) -> dict:
    return {
        "doc_id": record.doc_id,
        "title": record.title,
        "kind": record.kind,
        "year": record.year,
        "region": record.region,
        "source": Path(record.source).name,  # the file name, not the server's folders
        "content_hash": record.content_hash,
        "chunks": record.chunks,
        "indexed_at": record.indexed_at,
        "version": record.version,
    }


def _passage(chunk: Chunk | None) -> dict | None:
    if chunk is None:
        return None
    return {
        "chunk_id": chunk.chunk_id,
        "ordinal": chunk.ordinal,
        "page": chunk.page,
        "page_label": chunk.page_label,
        "section": chunk.section,
        "text": chunk.text,
    }
