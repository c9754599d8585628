"""The admin API's response models, for the documentation at /docs (Spanish descriptions)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from bot.web.schemas import ErrorOut


class JobErrorOut(BaseModel):
    file: str = Field(description="Archivo o documento que falló.")
    reason: str = Field(description="Motivo, en español.")


class JobOut(BaseModel):
    """Un trabajo de indexación: añadir, reemplazar, quitar o reindexar."""

    id: str
    action: str = Field(description="add, replace, remove o reindex.")
    state: str = Field(description="queued, running, succeeded, failed o interrupted.")
    requested_by: str = Field(
        description="Quién lo pidió (web:<ip>, telegram:<id>, cli:<usuario>)."
    )
    created_at: str = Field(description="ISO 8601, UTC.")
    started_at: str | None
    finished_at: str | None
    done: int = Field(description="Fragmentos procesados.")
    total: int = Field(description="Fragmentos por procesar (0 mientras no se sabe).")
    progress: str | None = Field(
        None,
        description="Avance en palabras, como lo muestran la terminal, el registro y /estado: "
        "hechos, total, ritmo y tiempo restante (null cuando el trabajo terminó).",
    )
    current: str | None = Field(description="Documento que se está procesando.")
    doc_ids: list[str]
    summary: str | None = Field(description="Resumen en español al terminar.")
    errors: list[JobErrorOut]


class JobsOut(BaseModel):
    jobs: list[JobOut] = Field(description="Los más recientes primero.")
    running: JobOut | None = Field(description="El trabajo en curso, si hay uno.")


class BusyOut(ErrorOut):
    job_id: str = Field(description="El trabajo en curso; consulta /api/admin/jobs/{job_id}.")


class AuditEntryOut(BaseModel):
    at: str
    actor: str
    action: str
    target: str
    result: str
    detail: str
    count: int = Field(
        description="Intentos rechazados de este cliente en la ventana (1 para lo demás); "
        "acción, objeto y detalle son los del último."
    )
    last_at: str | None = Field(description="El último de esos intentos, si hubo más de uno.")


class AuditOut(BaseModel):
    entries: list[AuditEntryOut] = Field(description="Las más recientes primero.")


CATALOG_FIELDS = {
    "title": {"type": "string", "description": "Título (opcional)."},
    "kind": {"type": "string", "description": "perx, plan-operativo, pnmce, estudio…"},
    "year": {"type": "integer", "description": "Año (opcional)."},
    "region": {"type": "string", "description": "Región (opcional)."},
}
BINARY = {"type": "string", "format": "binary"}


def multipart_body(files: dict) -> dict:
    """`openapi_extra` documenting a multipart form read by hand (after the token check)."""
    schema = {"type": "object", "required": list(files), "properties": {**files, **CATALOG_FIELDS}}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


UPLOAD_FORM = multipart_body(
    {"files": {"type": "array", "items": BINARY, "description": "Documentos .pdf, .txt o .md."}}
)
REPLACE_FORM = multipart_body({"file": {**BINARY, "description": "La nueva versión."}})

ADMIN_ERRORS = {
    401: {"model": ErrorOut, "description": "Falta el token o no es válido."},
    404: {"model": ErrorOut, "description": "Administración desactivada o recurso inexistente."},
    503: {"model": ErrorOut, "description": "La administración no está disponible."},
}

JOB_ERRORS = {
    **ADMIN_ERRORS,
    400: {
        "model": ErrorOut,
        "description": "Archivo rechazado (nombre, cifrado, dañado, sin texto).",
    },
    409: {"model": BusyOut, "description": "Ya hay un trabajo en curso."},
    413: {"model": ErrorOut, "description": "Archivo o subida demasiado grande."},
    415: {"model": ErrorOut, "description": "Tipo de archivo no admitido."},
}
