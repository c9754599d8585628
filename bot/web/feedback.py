"""👍/👎 votes on the web page's answers (`POST /api/feedback`), stored in the usage log.

A vote names its question by the id /api/ask gave out; the usage log keeps the link only when
that id is a question the same client asked with that text (whichever process answered it), so a
guessed or stale id neither fails the write (a foreign key) nor attaches a vote to someone else's
question.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from bot.usage import UsageLog
from bot.web.context import web
from bot.web.deps import check_rate_limit
from bot.web.errors import ApiError
from bot.web.schemas import ErrorOut, FeedbackRequest
from prompts import message

logger = logging.getLogger(__name__)

QUESTION_ID_HEADER = "X-Exporta-Question-Id"

FEEDBACK_ERRORS = {
    413: {"model": ErrorOut, "description": "Cuerpo demasiado grande."},
    422: {
        "model": ErrorOut,
        "description": "Voto distinto de 1 o -1, texto vacío o demasiado largo, o JSON mal formado.",
    },
    429: {"model": ErrorOut, "description": "Demasiadas solicitudes; ver la cabecera Retry-After."},
    503: {
        "model": ErrorOut,
        "description": "Este servidor no guarda valoraciones (sin registro de uso).",
    },
}

router = APIRouter()


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


async def logged_question_id(
    request: Request, logged: Future | None, question: str, wait: float
) -> int | None:
    """The id the usage log gives the question, if it comes within `wait` seconds."""
    if logged is None:
        return None
    try:
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(logged)), wait)
    except TimeoutError:
        return None  # the answer is not held up for it: the vote then links by text
    except Exception:  # the usage log never raises; should it, the answer still goes out
        logger.exception("Usage log: question id unavailable")
        return None


async def require_usage_log(request: Request) -> UsageLog:
    """The usage log, or 503: without it this server keeps no votes."""
    usage = web(request).usage
    if usage is None:
        raise ApiError(503, "usage_unavailable", message("web.usage_unavailable"))
    return usage


@router.post(
    "/api/feedback",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "Voto recibido (se guarda en segundo plano)."},
        **FEEDBACK_ERRORS,
    },
    dependencies=[Depends(check_rate_limit)],
    summary="Valorar una respuesta (👍/👎)",
    tags=["preguntas"],
)
async def feedback(
    request: Request, body: FeedbackRequest, usage: Annotated[UsageLog, Depends(require_usage_log)]
) -> Response:
    """Guarda un 👍 (`vote: 1`) o 👎 (`vote: -1`) sobre una respuesta, con la pregunta, la
    respuesta y sus fuentes, para el informe de uso del personal. La IP del cliente solo se
    guarda cifrada (hash con sal). Responde 204 al instante; el voto se escribe después."""
    usage.submit_vote(
        channel="web",
        user_id=client_of(request),
        question_id=body.question_id,
        vote=body.vote,
        question=body.question,
        answer_text=body.answer,
        sources=[source.model_dump() for source in body.sources],
        check_asker=True,  # the id came back from the client: it must be that client's question
    )
    return Response(status_code=204)
