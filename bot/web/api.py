"""The question API and health checks: a thin translation between HTTP and `AnswerService`."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from bot.database import reachable
from bot.streaming import streamed
from bot.web.context import web
from bot.web.deps import ERRORS, Service, check_rate_limit
from bot.web.errors import describe_domain_error, error_body, index_missing
from bot.web.feedback import QUESTION_ID_HEADER, client_of, logged_question_id
from bot.web.schemas import AskRequest, StatusOut
from bot.web.sse import SSE_HEADERS, sse_event
from prompts import message
from retrieval.contract import Answer
from retrieval.errors import ExportaError
from retrieval.service import AnswerService

logger = logging.getLogger(__name__)

# CPU-bound answers run in a few threads: more would only queue inside the 2-4 cores.
# How long an answer waits for its logged question's id (for votes); the log writes on its own
# threads. The stream's `done` event comes after the text is already on screen, so it can wait more.
QUESTION_ID_WAIT = 0.05
STREAM_QUESTION_ID_WAIT = 0.25

STREAM_EXAMPLE = (
    'event: sources\ndata: [{"n": 1, "doc_id": "perx-moquegua", "title": "…", "page": null, '
    '"section": "…", "chunk_id": "…", "text": "…", "score": 0.03}]\n\n'
    'event: token\ndata: {"text": "Proveer información de mercados destino … [1] "}\n\n'
    'event: done\ndata: {"question": "…", "answer": "…", "abstained": false, "sources": […], '
    '"timings_ms": {…}, "written_by": "quotes", "dropped_sentences": 0}\n\n'
)

router = APIRouter()


async def _answer(
    request: Request, service: AnswerService, body: AskRequest
) -> tuple[Answer, Future | None]:
    started = time.perf_counter()
    context = web(request)
    try:
        async with context.one_at_a_time(client_of(request) or "local"):
            answer = await anyio.to_thread.run_sync(
                lambda: service.answer(body.question, body.history, body.k),
                limiter=context.answer_limiter(),
            )
    except Exception as exc:
        _record(request, body.question, None, started, error=type(exc).__name__)
        raise
    return answer, _record(request, body.question, answer, started)


def _record(
    request: Request, question: str, answer: Answer | None, started: float, error: str | None = None
) -> Future | None:
    """Queue the question for the usage log (if any); the client IP is only kept hashed."""
    usage = web(request).usage
    if usage is None:
        return None
    return usage.submit_question(
        channel="web",
        user_id=request.client.host if request.client else None,
        question=question,
        answer=answer,
        latency_ms=(time.perf_counter() - started) * 1000,
        error=error,
    )


@router.post(
    "/api/ask",
    response_model=Answer,
    responses=ERRORS,
    dependencies=[Depends(check_rate_limit)],
    summary="Responder una pregunta",
    tags=["preguntas"],
)
async def ask(request: Request, response: Response, body: AskRequest, service: Service) -> dict:
    """Responde con citas [n] a los documentos oficiales, o dice honestamente que no encontró
    la respuesta (`abstained`) y muestra las fuentes más cercanas. Si el servidor registra el
    uso, la cabecera `X-Exporta-Question-Id` trae el id de la pregunta para /api/feedback."""
    answer, logged = await _answer(request, service, body)
    question_id = await logged_question_id(request, logged, answer.question, QUESTION_ID_WAIT)
    if question_id is not None:
        response.headers[QUESTION_ID_HEADER] = str(question_id)
    return answer.model_dump()


@router.post(
    "/api/ask/stream",
    responses={
        200: {
            "content": {"text/event-stream": {"example": STREAM_EXAMPLE}},
            "description": "Eventos: `sources` (lista de fuentes), luego `token` "
            '(`{"text": …}`, trozos de la respuesta que nunca cortan una cita), y al final '
            "`done` (la respuesta completa, como en /api/ask) o `error` (`{detail, code}`). "
            "Si el servidor registra el uso, `done` trae además `question_id` (el id para "
            "/api/feedback, o null si aún no se había registrado).",
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
    try:
        service.validate(body.question)
    except ExportaError as exc:
        _record(request, body.question, None, time.perf_counter(), error=type(exc).__name__)
        raise

    async def events() -> AsyncIterator[str]:
        started, context, answer = time.perf_counter(), web(request), None
        try:
            async with context.one_at_a_time(client_of(request) or "local"):
                made = streamed(
                    lambda: service.answer_events(body.question, body.history, body.k),
                    context.answer_limiter(),
                )
                async for event in made:
                    if event.kind == "sources":
                        yield sse_event("sources", [s.model_dump() for s in event.data])
                    elif event.kind == "token":
                        yield sse_event("token", {"text": event.data})
                    else:
                        answer = event.data
        except ExportaError as exc:
            _record(request, body.question, None, started, error=type(exc).__name__)
            _, code, detail = describe_domain_error(exc)
            yield sse_event("error", error_body(code, detail))
            return
        except Exception as exc:
            _record(request, body.question, None, started, error=type(exc).__name__)
            logger.exception("Streamed answer failed")
            yield sse_event("error", error_body("internal_error", message("web.internal_error")))
            return
        logged = _record(request, body.question, answer, started)
        data = answer.model_dump()
        if logged is not None:  # the key says the page may offer 👍/👎
            data["question_id"] = await logged_question_id(
                request, logged, answer.question, STREAM_QUESTION_ID_WAIT
            )
        yield sse_event("done", data)

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


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
    """200 si el índice está abierto y tiene documentos; 503 si no (con el motivo en español).
    Con la base de datos caída se sigue respondiendo: 200 con `status: degraded` y, en
    `degraded`, qué falta y por qué."""
    context = web(request)
    service = context.service
    if service is None:
        raise index_missing()
    records = await anyio.to_thread.run_sync(service.documents)
    if not records:
        raise index_missing()
    body = {"status": "ok", "documents": len(records), "chunks": sum(r.chunks for r in records)}
    problem = await anyio.to_thread.run_sync(reachable, context.settings)
    if problem is not None:
        body["status"] = "degraded"
        body["degraded"] = {"database": message("web.database_down", reason=problem)}
    return JSONResponse(body)
