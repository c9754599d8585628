"""The staff administration API (/api/admin/*) and page (/admin): thin over the JobRunner."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse

from bot.admin.jobs import DocumentNotFound, Job, JobBusy, JobRunner
from bot.admin.uploads import UploadRejected
from bot.usage.report import UsageUnavailable
from bot.web.admin_auth import (
    VIEWED,
    actor,
    admin_enabled,
    audit,
    not_found,
    require_staff,
)
from bot.web.admin_page import render_admin_page
from bot.web.admin_schemas import (
    ADMIN_ERRORS,
    JOB_ERRORS,
    REPLACE_FORM,
    UPLOAD_FORM,
    AuditOut,
    JobOut,
    JobsOut,
)
from bot.web.admin_uploads import read_uploads
from bot.web.context import web
from bot.web.errors import ApiError, error_body
from bot.web.schemas import ErrorOut
from prompts import message

logger = logging.getLogger(__name__)

# Upload refusals that are not a plain 400.
_UPLOAD_STATUS = {"too_large": 413, "unsupported_type": 415}

# How a request that starts a job is documented: 202 with the job, or why it did not start.
STARTS_A_JOB = {"status_code": 202, "responses": {202: {"model": JobOut}, **JOB_ERRORS}}

api_router = APIRouter(
    prefix="/api/admin",
    tags=["administración"],
    dependencies=[Depends(require_staff)],
    responses=ADMIN_ERRORS,
)
page_router = APIRouter(include_in_schema=False)


def _jobs(request: Request) -> JobRunner:
    jobs = web(request).admin
    if jobs is None:
        raise ApiError(503, "admin_unavailable", message("staff.unavailable"))
    return jobs


async def _start(request: Request, start: Callable[[JobRunner], Job]) -> JSONResponse:
    """Start a job off the event loop (uploads are validated first, synchronously) and answer
    202 with it, or with the refusal. The runner audits both itself."""
    jobs = _jobs(request)
    try:
        job = await anyio.to_thread.run_sync(lambda: start(jobs))
    except UploadRejected as exc:
        status = _UPLOAD_STATUS.get(exc.code, 400)
        return JSONResponse(error_body(exc.code, str(exc)), status_code=status)
    except JobBusy as exc:
        body = {**error_body("job_busy", str(exc)), "job_id": exc.job_id}
        return JSONResponse(body, status_code=409)
    except DocumentNotFound as exc:
        return JSONResponse(error_body("document_not_found", str(exc)), status_code=404)
    logger.info("Job %s (%s) started by %s", job.id, job.action, job.requested_by)
    location = f"/api/admin/jobs/{job.id}"
    return JSONResponse(job.to_dict(), status_code=202, headers={"Location": location})


@api_router.post(
    "/documents",
    **STARTS_A_JOB,
    openapi_extra=UPLOAD_FORM,
    summary="Subir documentos e indexarlos",
)
async def add_documents(request: Request) -> JSONResponse:
    """Valida cada archivo (tamaño, tipo por contenido, nombre, texto) antes de tocar nada y
    arranca un trabajo que los indexa; el trabajo se sigue en `Location`."""
    uploads = await read_uploads(request, "add", many=True)
    who = actor(request)
    return await _start(request, lambda jobs: jobs.add_documents(uploads, who))


@api_router.put(
    "/documents/{doc_id}",
    **STARTS_A_JOB,
    openapi_extra=REPLACE_FORM,
    summary="Reemplazar un documento",
)
async def replace_document(request: Request, doc_id: str) -> JSONResponse:
    """Indexa la nueva versión (un archivo); la anterior responde hasta que la nueva esté lista."""
    [upload] = await read_uploads(request, "replace", many=False, target=doc_id)
    who = actor(request)
    return await _start(request, lambda jobs: jobs.replace_document(doc_id, upload, who))


@api_router.delete(
    "/documents/{doc_id}",
    **STARTS_A_JOB,
    summary="Quitar un documento",
)
async def remove_document(request: Request, doc_id: str) -> JSONResponse:
    """Quita el documento del índice: el asistente deja de citarlo."""
    who = actor(request)
    return await _start(request, lambda jobs: jobs.remove_document(doc_id, who))


@api_router.post(
    "/reindex",
    **STARTS_A_JOB,
    summary="Reindexar todo el corpus",
)
async def reindex(request: Request) -> JSONResponse:
    """Vuelve a indexar la carpeta del corpus (solo lo que cambió se procesa de nuevo)."""
    who = actor(request)
    return await _start(request, lambda jobs: jobs.reindex(who))


@api_router.get("/jobs", response_model=JobsOut, summary="Trabajos recientes")
async def recent_jobs(request: Request, limit: int = 20) -> dict:
    """Los trabajos más recientes y el que está en curso."""
    jobs = _jobs(request)
    recent, running = await anyio.to_thread.run_sync(
        lambda: (jobs.recent(max(1, min(limit, 100))), jobs.running())
    )
    return {
        "jobs": [j.to_dict() for j in recent],
        "running": running.to_dict() if running else None,
    }


@api_router.get("/jobs/{job_id}", response_model=JobOut, summary="Avance de un trabajo")
async def job(request: Request, job_id: str) -> dict:
    """Estado, avance (`done` de `total` fragmentos, documento `current`) y resultado."""
    jobs = _jobs(request)
    found = await anyio.to_thread.run_sync(lambda: jobs.job(job_id))
    if found is None:
        raise ApiError(404, "job_not_found", message("staff.job_not_found", job_id=job_id))
    return found.to_dict()


@api_router.get("/audit", response_model=AuditOut, summary="Registro de auditoría")
async def audit_log(request: Request, limit: int = 100) -> dict:
    """Quién hizo qué, cuándo y con qué resultado (incluidos los intentos rechazados)."""
    log = web(request).audit
    if log is None:
        raise ApiError(503, "admin_unavailable", message("staff.unavailable"))
    entries = await anyio.to_thread.run_sync(lambda: log.entries(max(1, min(limit, 1000))))
    return {"entries": entries}


@api_router.get(
    "/report",
    summary="Informe de uso",
    responses={422: {"model": ErrorOut, "description": "Fecha mal escrita (AAAA-MM-DD)."}},
)
async def report(request: Request, since: str | None = None) -> dict:
    """Preguntas sin respuesta frecuentes, respuestas con 👎 y preguntas por canal y día desde
    `since` (AAAA-MM-DD, día de Lima; sin ella, todo lo que se conserva)."""
    usage = web(request).usage
    if usage is None:
        raise ApiError(503, "usage_unavailable", message("staff.usage_unavailable"))
    start = _since(since)
    try:
        result = await anyio.to_thread.run_sync(lambda: usage.report(start))
    except UsageUnavailable as exc:
        raise ApiError(503, "usage_unavailable", str(exc)) from None
    await audit(request, "report", start.isoformat() if start else "", VIEWED)
    return result.to_dict()


def _since(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        detail = message("staff.bad_date", value=value[:40])
        raise ApiError(422, "invalid_date", detail) from None


@page_router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request) -> HTMLResponse:
    """The staff page; the token is typed there and kept in sessionStorage, never in the URL."""
    if not admin_enabled(request):
        raise not_found()
    return HTMLResponse(render_admin_page(), headers={"Cache-Control": "no-store"})


router = APIRouter()
router.include_router(api_router)
router.include_router(page_router)
