"""`create_app(service, settings, admin, usage)`: the web API, the chat page, the passage view and
the staff pages, built from what they use (bot/compose.py gives it)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from bot.settings import Settings
from bot.web import admin as staff_routes
from bot.web import api, documents, feedback, pages
from bot.web.apidocs import install_offline_docs
from bot.web.bodylimit import BodySizeLimit
from bot.web.context import LiveService, WebContext
from bot.web.errors import install_error_handlers
from bot.web.security import SecurityHeaders
from retrieval.service import AnswerService

if TYPE_CHECKING:
    from bot.admin.jobs import JobRunner
    from bot.usage import UsageLog

logger = logging.getLogger(__name__)

DESCRIPTION = """
Exporta responde en español las preguntas de exportadores peruanos con los documentos
oficiales de planificación exportadora (PERX, PNMCE, estudios), **siempre citando la fuente**.

* `POST /api/ask` responde una pregunta (JSON); `POST /api/ask/stream` la responde como
  Server-Sent Events.
* Cada respuesta trae fuentes numeradas; las citas `[n]` del texto remiten a ellas.
* Si los documentos no responden la pregunta, `abstained` es verdadero y las fuentes son las
  más cercanas; si la pregunta no trata de comercio exterior (un chiste, una receta, una orden
  al asistente), `abstained` es verdadero, la respuesta dice qué cubre Exporta y no hay fuentes.
* Los errores traen `detail` (mensaje en español para el usuario) y `code` (estable).
"""

TAGS = [
    {"name": "preguntas", "description": "Preguntas y respuestas con fuentes citadas."},
    {"name": "documentos", "description": "Los documentos indexados y sus pasajes."},
    {"name": "estado", "description": "Comprobaciones para el balanceador o el orquestador."},
    {
        "name": "administración",
        "description": "Para el personal (token Bearer): subir, reemplazar y quitar documentos, "
        "reindexar, trabajos, auditoría e informe de uso.",
    },
]


def create_app(
    service: AnswerService | LiveService | None,
    settings: Settings,
    admin: JobRunner | None = None,
    usage: UsageLog | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The web app over an answering service; with `service=None` (no index yet) the page still
    loads and the API answers 503 asking to run `exporta ingest`. `admin` (the staff job runner)
    and `usage` (the usage log) are None where this process has none; `routers` are mounted too
    (the Telegram webhook or poller)."""
    app = FastAPI(
        title="Exporta",
        description=DESCRIPTION,
        version="0.1.0",
        openapi_tags=TAGS,
        docs_url=None,  # served offline by install_offline_docs
        redoc_url=None,
        swagger_ui_parameters={"defaultModelsExpandDepth": 0},
    )
    live = service if isinstance(service, LiveService) else LiveService(service)
    app.state.web = WebContext(live, settings, admin=admin, usage=usage)
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, upload_mb=settings.max_upload_mb
    )
    app.add_middleware(SecurityHeaders)  # outermost: every response has them, errors too
    app.include_router(api.router)
    app.include_router(feedback.router)
    app.include_router(documents.router)
    app.include_router(pages.router)
    if settings.admin_token.get_secret_value():  # without a token the admin does not exist
        app.include_router(staff_routes.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    for router in routers:
        app.include_router(router)
    install_offline_docs(app)
    return app
