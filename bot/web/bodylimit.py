"""Reject request bodies over a size limit with 413, by the declared length or while reading."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.errors import ApiError, error_body
from prompts import message

UPLOAD_PREFIX = "/api/admin/"
MB = 1024 * 1024
# Multipart boundaries, part headers and the catalog fields around the files themselves.
MULTIPART_OVERHEAD = 64 * 1024


class BodySizeLimit:
    """Pure ASGI middleware. A Content-Length over the limit is answered at once; a body sent
    without one fails as soon as it passes the limit (the app's HTTP error handler renders it).

    Staff uploads (/api/admin/*) get `upload_mb` instead. Their declared length is checked by the
    admin routes after the token (so the refusal is audited); here only the bytes actually read
    are counted, so a lying or missing Content-Length still cannot push more than the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, upload_mb: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_mb = upload_mb

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = self.upload_mb is not None and scope["path"].startswith(UPLOAD_PREFIX)
        limit = upload_limit(self.upload_mb) if upload else self.max_bytes
        declared = _content_length(scope)
        if not upload and declared is not None and declared > limit:
            detail = message("web.body_too_large", limit=limit)
            response = JSONResponse(error_body("body_too_large", detail), status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            got = await receive()
            if got["type"] == "http.request":
                received += len(got.get("body", b""))
                if received > limit:
                    if upload:
                        raise upload_too_large(self.upload_mb)
                    raise HTTPException(status_code=413)
            return got

        await self.app(scope, limited_receive, send)


def upload_limit(upload_mb: int) -> int:
    """The most bytes one staff upload request may carry."""
    return upload_mb * MB + MULTIPART_OVERHEAD


def upload_too_large(upload_mb: int) -> ApiError:
    return ApiError(413, "too_large", message("staff.upload_too_large", mb=upload_mb))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
