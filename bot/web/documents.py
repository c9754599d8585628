"""Documents and passages: what the assistant can cite, and a cited chunk in context."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError

from bot.web.context import web
from bot.web.deps import ERRORS, Service
from bot.web.errors import ApiError
from bot.web.passages import PassageIndex
from bot.web.schemas import DocumentDetailOut, DocumentsOut, ErrorOut, PassageContextOut
from prompts import message
from retrieval.contract import Chunk, DocumentRecord
from retrieval.service import AnswerService

logger = logging.getLogger(__name__)

router = APIRouter(tags=["documentos"])


@router.get(
    "/api/documents",
    response_model=DocumentsOut,
    responses={503: ERRORS[503]},
    summary="Documentos indexados",
)
async def documents(request: Request, service: Service) -> dict:
    """Los documentos que el asistente puede citar: título, tipo, año, pasajes, fecha de
    indexación, hash del contenido y su historial de versiones."""
    records = await anyio.to_thread.run_sync(service.documents)
    history = await anyio.to_thread.run_sync(_history, request)
    return {"documents": [_document(r, history.get(r.doc_id, [])) for r in records]}


@router.get(
    "/api/documents/{doc_id}",
    response_model=DocumentDetailOut,
    responses={404: {"model": ErrorOut}, 503: ERRORS[503]},
    summary="Un documento",
)
async def document(request: Request, doc_id: str, service: Service) -> dict:
    """Los datos de un documento y su primer pasaje."""
    record = await _record(service, doc_id)
    first = _passages(request).first_chunk_id(doc_id)
    history = await anyio.to_thread.run_sync(_history, request, doc_id)
    return {**_document(record, history.get(doc_id, [])), "first_chunk_id": first}


@router.get(
    "/api/documents/{doc_id}/chunks/{chunk_id}",
    response_model=PassageContextOut,
    responses={404: {"model": ErrorOut}, 503: ERRORS[503]},
    summary="Un pasaje con sus vecinos",
)
async def chunk(request: Request, doc_id: str, chunk_id: str, service: Service) -> dict:
    """El pasaje citado (`chunk_id` de una fuente) con el anterior y el siguiente del mismo
    documento, para leerlo en contexto."""
    context = _passages(request).context(doc_id, chunk_id)
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


async def _record(service: AnswerService, doc_id: str) -> DocumentRecord:
    records = await anyio.to_thread.run_sync(service.documents)
    for record in records:
        if record.doc_id == doc_id:
            return record
    raise ApiError(404, "document_not_found", message("web.document_not_found", doc_id=doc_id))


def _passages(request: Request) -> PassageIndex:
    # The very chunks the service answers from, so every cited chunk_id resolves.
    return web(request).passages()


def _history(request: Request, doc_id: str | None = None) -> dict[str, list[dict]]:
    """Each document's versions, newest first; who indexed them only by channel (public API)."""
    try:
        found = web(request).versions().history(doc_id)
    except SQLAlchemyError:  # the documents still list without their history
        logger.exception("Version history unavailable")
        return {}
    history: dict[str, list[dict]] = {}
    for v in found:
        entry = v.to_dict()
        entry["indexed_by"] = v.indexed_by.split(":", 1)[0]  # no staff ids or addresses
        history.setdefault(v.doc_id, []).append(entry)
    return history


def _document(record: DocumentRecord, history: list[dict] | None = None) -> dict:
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
        "history": history or [],
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
