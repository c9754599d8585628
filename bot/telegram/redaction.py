"""Keep the bot token and webhook secret out of every log line (httpx and PTB log request URLs)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "[secreto]"


class SecretRedactor(logging.Filter):
    """A handler filter that replaces secrets in the message and the traceback of each record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        text = self._redact(record.getMessage())
        if text != record.msg or record.args:
            record.msg, record.args = text, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


def redact_secrets_in_logs(*secrets: str, logger: logging.Logger | None = None) -> SecretRedactor:
    """Attach a redactor to every handler of `logger` (the root logger by default)."""
    redactor = SecretRedactor(secrets)
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(redactor)
    return redactor
