"""What the API's routes share: the service (or 503), the per-client limit, error responses."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import Depends, Request

from bot.web.context import web
from bot.web.errors import ApiError, index_missing
from bot.web.schemas import ErrorOut
from prompts import message
from retrieval.service import AnswerService

ERRORS = {
    413: {"model": ErrorOut, "description": "Cuerpo demasiado grande."},
    422: {"model": ErrorOut, "description": "Pregunta vacía, demasiado larga o JSON mal formado."},
    429: {"model": ErrorOut, "description": "Demasiadas preguntas; ver la cabecera Retry-After."},
    503: {"model": ErrorOut, "description": "Aún no hay índice (ejecuta `exporta ingest`)."},
}


async def get_service(request: Request) -> AnswerService:
    service = web(request).service
    if service is None:
        raise index_missing()
    return service


async def check_rate_limit(request: Request) -> None:
    """Count a question against its client (a row of the shared database, in a thread)."""
    limiter = web(request).rate_limiter
    client = request.client.host if request.client else "local"
    wait = await anyio.to_thread.run_sync(limiter.check, client)
    if wait:
        detail = message("web.rate_limited", limit=limiter.limit, seconds=wait)
        raise ApiError(429, "rate_limited", detail, headers={"Retry-After": str(wait)})


Service = Annotated[AnswerService, Depends(get_service)]
