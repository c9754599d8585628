"""Answers written by a language model from the passages, through LangChain (optional).

`chat_model` is the one provider switch (EXPORTA_LLM_PROVIDER): it imports the provider's LangChain
package only when asked for, so the default, quoted answers need neither. `LlmComposer` holds the
two LCEL chains, prompt | chat model | parser: one writes the answer from the numbered passages,
streamed; the other turns a follow-up and its conversation into a question that stands alone.
What the model writes is checked by retrieval/grounding.py before anyone sees it.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterator, Sequence

from prompts import message, unfilled
from retrieval.contract import Source, Turn
from retrieval.errors import ConfigurationError, ExportaError
from retrieval.settings import RetrievalSettings

logger = logging.getLogger(__name__)


class LlmUnavailable(ExportaError):
    """The model did not answer in time or answered with an error; the quoted answer is given."""


# Provider -> (module, class) of its LangChain chat model, imported only when configured.
CHAT_MODELS = {
    "openai": ("langchain_openai", "ChatOpenAI"),
    "ollama": ("langchain_ollama", "ChatOllama"),
}


def chat_model(settings: RetrievalSettings):
    """The configured LangChain chat model (never retried: a failure falls back at once)."""
    provider, model = settings.llm_provider, settings.llm_model
    if not model:
        raise ConfigurationError("llm.missing_model", provider=provider)
    module, name = CHAT_MODELS[provider]
    try:
        chat_class = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        package = module.replace("_", "-")
        raise ConfigurationError("llm.missing_extra", package=package, provider=provider) from exc
    key = settings.llm_api_key.get_secret_value()
    common = {"model": model, "base_url": settings.llm_base_url or None,
              "temperature": settings.llm_temperature}  # fmt: skip
    if provider == "openai":
        return chat_class(
            **common,
            api_key=key or "sin-clave",  # local servers need none, the client needs one
            timeout=settings.llm_timeout_seconds,
            max_retries=0,
        )
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return chat_class(
        **common, client_kwargs={"timeout": settings.llm_timeout_seconds, "headers": headers}
    )


class LlmComposer:
    """Writes answers (streamed) and standalone follow-ups with one chat model."""

    def __init__(self, model, timeout_seconds: float, passage_chars: int) -> None:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        def chain(system: str, human: str):
            prompt = ChatPromptTemplate.from_messages(
                [("system", unfilled(system)), ("human", unfilled(human))]
            )
            return prompt | model | StrOutputParser()

        self.timeout = timeout_seconds
        self.passage_chars = passage_chars
        self._answer = chain("llm.system", "llm.human")
        self._condense = chain("llm.condense_system", "llm.condense_human")

    @classmethod
    def from_settings(cls, settings: RetrievalSettings) -> LlmComposer | None:
        """The composer the settings ask for; None for quoted answers (the default)."""
        if settings.llm_provider == "none":
            return None
        model = chat_model(settings)
        logger.info("Answers written by %s (%s)", settings.llm_model, settings.llm_provider)
        return cls(model, settings.llm_timeout_seconds, settings.llm_passage_chars)

    def stream(
        self, question: str, passages: dict[int, str], sources: Sequence[Source]
    ) -> Iterator[str]:
        """The model's answer as it arrives; LlmUnavailable past the timeout or on an error."""
        deadline = time.monotonic() + self.timeout
        inputs = {"passages": render_passages(passages, sources), "question": question}
        try:
            for piece in self._answer.stream(inputs):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer within {self.timeout:g} s")
                yield piece
        except Exception as exc:  # the providers raise their own types for 429, 5xx, timeouts
            raise LlmUnavailable("llm.unavailable", reason=_reason(exc)) from exc

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """The follow-up rewritten to stand alone; LlmUnavailable on a failure."""
        turns = "\n".join(
            message("llm.history_turn", question=t.question, answer=t.answer) for t in history
        )
        try:
            text = self._condense.invoke({"history": turns, "question": question})
        except Exception as exc:
            raise LlmUnavailable("llm.unavailable", reason=_reason(exc)) from exc
        return " ".join(text.split())


def render_passages(passages: dict[int, str], sources: Sequence[Source]) -> str:
    """ "[n] Title (p. 12): text" for each passage, in citation order."""
    by_n = {s.n: s for s in sources}
    lines = []
    for n, text in sorted(passages.items()):
        source = by_n.get(n)
        where = f" ({source.citation()})" if source else ""
        lines.append(f"[{n}]{where}: {text}")
    return "\n".join(lines)


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"
