"""`create_app(service, settings)`: the web API, the chat page and the passage view."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bot.ratelimit import RateLimiter
from bot.web import admin, api, documents, feedback, pages
from bot.web.apidocs import install_offline_docs
from bot.web.bodylimit import BodySizeLimit
from bot.web.errors import install_error_handlers
from retrieval.service import AnswerService
from retrieval.settings import Settings

logger = logging.getLogger(__name__)

DESCRIPTION = """
Exporta responde en español las preguntas de exportadores peruanos con los documentos
oficiales de planificación exportadora (PERX, PNMCE, estudios), **siempre citando la fuente**.

* `POST /api/ask` responde una pregunta (JSON); `POST /api/ask/stream` la responde como
  Server-Sent Events.
* Cada respuesta trae fuentes numeradas; las citas `[n]` del texto remiten a ellas.
* Si los documentos no responden la pregunta, `abstained` es verdadero y las fuentes son las
  más cercanas.
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


def create_app(service: AnswerService | None, settings: Settings) -> FastAPI:
    """The web app over an answering service; with `service=None` (no index yet) the page still
    loads and the API answers 503 asking to run `exporta ingest`."""
    app = FastAPI(
        title="Exporta",
        description=DESCRIPTION,
        version="0.1.0",
        openapi_tags=TAGS,
        docs_url=None,  # served offline by install_offline_docs
        redoc_url=None,
        swagger_ui_parameters={"defaultModelsExpandDepth": 0},
    )
    app.state.service = service
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.answer_limiter = None
    app.state.passages = None  # see passages.current_passages
    # Staff administration, set by the composition root (None = not available in this process).
    app.state.jobs = None
    app.state.audit = None
    app.state.usage = None
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, upload_mb=settings.max_upload_mb
    )
    app.include_router(api.router)
    app.include_router(feedback.router)
    app.include_router(documents.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    install_offline_docs(app)
    return app
