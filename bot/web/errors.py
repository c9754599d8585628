"""Every error the web API returns: a Spanish `detail`, a stable `code`, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.web.context import web
from prompts import message
from retrieval.errors import ExportaError, IndexMissing, InvalidQuestion

logger = logging.getLogger(__name__)


class ApiError(HTTPException):
    """An HTTP error whose detail is already a Spanish message for the user."""

    def __init__(
        self, status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.code = code


def error_body(code: str, detail: str, errors: Sequence[str] = ()) -> dict[str, Any]:
    return {"detail": detail, "code": code, "errors": list(errors)}


def describe_domain_error(exc: ExportaError) -> tuple[int, str, str]:
    """(status, code, Spanish detail) of a service error; internals are logged, not shown."""
    if isinstance(exc, InvalidQuestion):
        return 422, "invalid_question", str(exc)
    if isinstance(exc, IndexMissing):
        return 503, "index_missing", message("web.index_missing")
    logger.error("Index unavailable: %s", exc)
    return 503, "index_unavailable", message("web.unavailable")


def index_missing() -> ApiError:
    return ApiError(503, "index_missing", message("web.index_missing"))


def validation_messages(errors: Sequence[dict[str, Any]]) -> list[str]:
    """pydantic's validation errors, one short Spanish sentence each."""
    return [_validation_message(error) for error in errors]


def _validation_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    field = _field_name(error.get("loc", ()))
    ctx = error.get("ctx") or {}
    if kind == "json_invalid":
        return message("web.invalid_json")
    if not field and kind in ("missing", "model_attributes_type", "dict_type", "model_type"):
        return message("web.invalid_body")
    simple = {
        "missing": "web.field_missing",
        "string_type": "web.field_not_text",
        "int_type": "web.field_not_integer",
        "int_parsing": "web.field_not_integer",
        "int_from_float": "web.field_not_integer",
        "list_type": "web.field_not_list",
        "model_attributes_type": "web.field_not_object",
        "dict_type": "web.field_not_object",
        "model_type": "web.field_not_object",
        "extra_forbidden": "web.field_extra",
    }
    if kind in simple:
        return message(simple[kind], field=field)
    if kind in ("greater_than_equal", "greater_than"):
        return message("web.field_too_small", field=field, limit=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return message("web.field_too_large", field=field, limit=ctx.get("le", ctx.get("lt")))
    if kind in ("too_long", "string_too_long"):
        return message("web.field_too_long", field=field, limit=ctx.get("max_length"))
    return message("web.field_invalid", field=field or "body")


def _field_name(loc: Sequence[Any]) -> str:
    """('body', 'history', 0, 'answer') -> 'history[0].answer'."""
    name = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path") else loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    if not await _is_utf8(request):  # bytes that are no text at all, not merely bad JSON
        return _invalid_request([message("web.undecodable_body")])
    return _invalid_request(validation_messages(exc.errors()))


def _invalid_request(errors: list[str]) -> JSONResponse:
    detail = message("web.invalid_request", details="; ".join(errors))
    return JSONResponse(error_body("invalid_request", detail, errors), status_code=422)


async def _on_domain_error(request: Request, exc: ExportaError) -> JSONResponse:
    status, code, detail = describe_domain_error(exc)
    return JSONResponse(error_body(code, detail), status_code=status)


_HTTP_MESSAGES = {
    404: ("not_found", "web.not_found"),
    405: ("method_not_allowed", "web.method_not_allowed"),
}


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and not await _is_utf8(request):  # FastAPI's "error parsing"
        return _invalid_request([message("web.undecodable_body")])
    if isinstance(exc, ApiError):
        code, detail = exc.code, str(exc.detail)
    elif exc.status_code == 413:
        limit = web(request).settings.max_body_bytes
        code, detail = "body_too_large", message("web.body_too_large", limit=limit)
    elif exc.status_code in _HTTP_MESSAGES:
        code, key = _HTTP_MESSAGES[exc.status_code]
        detail = message(key)
    else:
        code, detail = "http_error", message("web.http_error", status=exc.status_code)
    return JSONResponse(error_body(code, detail), status_code=exc.status_code, headers=exc.headers)


async def _is_utf8(request: Request) -> bool:
    try:
        (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        return False
    except Exception:  # the body is gone (streamed away): nothing to say about it
        return True
    return True


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("Unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal_error", message("web.internal_error")), status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ExportaError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
