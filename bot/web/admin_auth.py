"""Who may administer: a bearer token compared in constant time, and the audit of every attempt."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.admin.audit import UNAUTHORIZED
from bot.web.context import web
from bot.web.errors import ApiError
from prompts import message

logger = logging.getLogger(__name__)

# Audit results written here (the JobRunner writes "started", "busy", "rejected", … itself).
VIEWED, REJECTED = "viewed", "rejected"


# Shows the "Authorize" button at /docs; checked by hand below (auto_error would answer 403).
bearer = HTTPBearer(
    auto_error=False, scheme_name="token", description="El valor de EXPORTA_ADMIN_TOKEN."
)


def actor(request: Request) -> str:
    """The audit log's "who" for a web request: the client address."""
    return f"web:{request.client.host if request.client else 'local'}"


async def audit(request: Request, action: str, target: str, result: str, detail: str = "") -> None:
    """Write one audit entry off the event loop; a broken audit log is logged, never hidden."""
    log = web(request).audit
    if log is None:
        logger.warning("No audit log: %s %s %s by %s", action, target, result, actor(request))
        return
    await anyio.to_thread.run_sync(
        lambda: log.record(actor(request), action, target, result, detail)
    )


def admin_enabled(request: Request) -> bool:
    return bool(web(request).settings.admin_token.get_secret_value())


def not_found() -> ApiError:
    """Admin disabled looks exactly like a route that does not exist."""
    return ApiError(404, "not_found", message("web.not_found"))


def token_matches(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    expected = web(request).settings.admin_token.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials else b""
    # Always compare, even without a token, so timing says nothing about the right one.
    same = hmac.compare_digest(given, expected)
    return credentials is not None and same


async def require_staff(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """404 with admin disabled, 401 (audited) without the right token."""
    if not admin_enabled(request):
        raise not_found()
    if not token_matches(request, credentials):
        reason = "sin token" if "authorization" not in request.headers else "token incorrecto"
        await audit(request, request.method, request.url.path, UNAUTHORIZED, reason)
        raise ApiError(
            401,
            "unauthorized",
            message("staff.unauthorized"),
            headers={"WWW-Authenticate": 'Bearer realm="exporta-admin"'},
        )
