"""Security headers on every response: a strict Content-Security-Policy (no inline script, no
framing), `nosniff` and a same-origin referrer. The pages load their scripts from /static and
read their texts from a JSON data block, so nothing inline needs to run. Redirects to this site
are made relative, so a forged Host header is never echoed in a Location."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Referrer-Policy": "same-origin",
}


def relative(location: str, request: Headers) -> str:
    """A redirect to the requested host as a path ("/api/ask"); one elsewhere is left alone."""
    parts = urlsplit(location)
    if parts.netloc and parts.netloc == request.get("host"):
        return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    return location


class SecurityHeaders:
    """Pure ASGI middleware: the headers above on every HTTP response (streams included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(event: Message) -> None:
            if event["type"] == "http.response.start":
                headers = MutableHeaders(scope=event)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if "location" in headers:
                    headers["location"] = relative(headers["location"], Headers(scope=scope))
            await send(event)

        await self.app(scope, receive, with_headers)
