"""Who asked, without knowing who: user ids and client IPs kept only as salted hashes."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from bot.settings import Settings

logger = logging.getLogger(__name__)

SALT_FILE = "usage-salt"


class UserHasher:
    """HMAC-SHA256 of "channel:id" under a secret salt: stable per person, not reversible."""

    def __init__(self, salt: bytes) -> None:
        self._salt = salt

    def __call__(self, channel: str, user_id: str | int | None) -> str | None:
        if user_id is None or user_id == "":
            return None
        digest = hmac.new(self._salt, f"{channel}:{user_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]


def load_salt(settings: Settings) -> bytes:
    """EXPORTA_USAGE_SALT, or the salt generated once and kept in <data_dir>/usage-salt."""
    configured = settings.usage_salt.get_secret_value()
    if configured:
        return configured.encode()
    path = settings.data_dir / SALT_FILE
    try:
        return _read_or_create(path)
    except OSError as exc:
        # Hashes then change at the next start: worse reports, but still no raw ids stored.
        logger.error("Usage salt %s unavailable (%s); using a temporary one", path, exc)
        return secrets.token_hex(32).encode()


def _read_or_create(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            # A hard link appears whole and never replaces the salt another worker just made.
            os.link(draft, path)
            logger.info("Generated the usage salt in %s", path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    salt = path.read_text(encoding="ascii").strip()
    if not salt:
        raise OSError("the salt file is empty")
    return salt.encode()
