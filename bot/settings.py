"""The settings of the channels, one class per layer, composed with retrieval's into `Settings`.

All read `EXPORTA_*` variables and `.env` (retrieval/settings.py has retrieval's and indexing's).
"""

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode

from retrieval.settings import CONFIG, RetrievalSettings


class WebSettings(BaseSettings):
    """`exporta serve`: where it listens and what one client may ask."""

    model_config = CONFIG

    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    rate_limit_per_minute: int = Field(
        30, ge=0, description="Questions per client per minute; 0 = off."
    )
    max_body_bytes: int = Field(16_384, ge=1024)
    trusted_proxies: str = Field(
        "",
        description="Addresses of the reverse proxies whose X-Forwarded-For names the client "
        "(comma-separated, as uvicorn's forwarded_allow_ips); empty = trust none.",
    )


class TelegramSettings(BaseSettings):
    """`exporta telegram`, or the webhook mounted in the web app."""

    model_config = CONFIG

    telegram_token: SecretStr = Field(SecretStr(""), description="Bot token; empty = bot disabled.")
    telegram_webhook_secret: SecretStr = Field(SecretStr(""))
    telegram_base_url: str = Field(
        "", description="Self-hosted Bot API, e.g. http://127.0.0.1:8081/bot"
    )
    telegram_webhook_path: str = Field("/telegram/webhook")
    telegram_history_ttl_seconds: int = Field(1800, ge=60)
    telegram_rate_limit_per_minute: int = Field(10, ge=0)
    telegram_webhook_url: str = Field(
        "", description="Public HTTPS URL registered with setWebhook at startup; empty = don't."
    )
    telegram_staff_ids: Annotated[frozenset[int], NoDecode] = Field(
        frozenset(),
        description="Telegram user ids allowed to /indexar, /reindexar, /estado (1,2,3).",
    )

    @field_validator("telegram_staff_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """`EXPORTA_TELEGRAM_STAFF_IDS=123,456` (commas or spaces)."""
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(",", " ").split())
        return value


class AdminSettings(BaseSettings):
    """Staff administration: /admin and /api/admin/*."""

    model_config = CONFIG

    admin_token: SecretStr = Field(
        SecretStr(""), description="Bearer token of the admin API and page; empty = admin disabled."
    )
    max_upload_mb: int = Field(50, ge=1, description="Largest document accepted for upload.")


class DatabaseSettings(RetrievalSettings):
    """The SQL database of questions, votes, audit, jobs and document versions."""

    database_url: str = Field(
        "", description="SQLAlchemy URL; empty = SQLite at <data_dir>/exporta.db."
    )
    usage_retention_days: int = Field(180, ge=1, description="Questions and votes kept this long.")
    audit_retention_days: int = Field(365, ge=1, description="Audit entries kept this long.")
    usage_salt: SecretStr = Field(
        SecretStr(""), description="Salt of the hashed user ids; empty = one generated and kept."
    )

    def sql_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'exporta.db').resolve()}"


class Settings(WebSettings, TelegramSettings, AdminSettings, DatabaseSettings):
    """Every layer's settings, as the composition root (bot/compose.py) hands them out."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
