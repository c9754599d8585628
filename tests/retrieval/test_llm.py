"""Answers written by a language model: the real LangChain clients against fake servers.

`langchain-openai` and `langchain-ollama` talk HTTP to tests/fake_llm.py on 127.0.0.1; any request
elsewhere fails the test. The model only writes: the policy still decides whether to answer, and
every sentence is checked against the passages it cites before anyone sees it.
"""

from __future__ import annotations

import logging
import socket
import sys

import pytest
from fake_llm import QUESTION, Reply, grounded, llm_service, tokens
from pydantic import SecretStr

from retrieval.contract import Turn
from retrieval.errors import ConfigurationError
from retrieval.llm import LlmComposer
from retrieval.service import AnswerService
from retrieval.store import ChunkStore

PROVIDERS = ["openai", "ollama"]


def test_the_guard_sees_an_attempt_to_reach_a_real_provider(indexed, embedder, monkeypatch):
    settings, _ = indexed
    real = settings.model_copy(update={"llm_provider": "openai", "llm_model": "gpt-4o-mini"})
    composer = LlmComposer.from_settings(real)  # base URL empty: api.openai.com
    service = AnswerService(ChunkStore.open(real), embedder, real, composer=composer)
    looked_up: list[str] = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: looked_up.append(host) or [])

    answer = service.answer(QUESTION)

    assert answer.written_by == "quotes"  # the fallback hides it from users, not from tests
    assert looked_up == ["api.openai.com"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_grounded_answer_is_written_by_the_model(indexed, embedder, llm, provider):
    service = llm_service(indexed, embedder, llm, provider)
    n, sentence = grounded(service)
    llm.script(Reply(tokens(sentence)))

    events = list(service.answer_events(QUESTION))
    answer = events[-1].data

    assert (answer.written_by, answer.answer, answer.dropped_sentences) == ("llm", sentence, 0)
    assert not answer.abstained and answer.cited_sources()[0].n == n
    assert [e.kind for e in events] == ["sources", "token", "done"]
    [request] = llm.requests
    assert request.body["model"] == "modelo-de-prueba" and request.body["stream"] is True
    assert "Responde solo con lo que dicen los pasajes numerados" in request.prompt
    assert f"[{n}]" in request.prompt and "capacitados" in request.prompt
    assert QUESTION in request.prompt


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_invented_number_is_dropped_before_anyone_sees_it(indexed, embedder, llm, provider):
    service = llm_service(indexed, embedder, llm, provider)
    n, sentence = grounded(service)
    invented = f"En 2040 serán 5000 productores [{n}]."
    llm.script(Reply(tokens(f"{sentence} {invented}")))

    events = list(service.answer_events(QUESTION))
    answer = events[-1].data

    assert answer.answer == sentence and answer.dropped_sentences == 1
    assert not any("5000" in e.data for e in events if e.kind == "token")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_citation_of_a_passage_not_given_falls_back_to_the_quoted_answer(
    indexed, embedder, llm, provider, service
):
    quoted = service.answer(QUESTION)  # the same index, no model
    service = llm_service(indexed, embedder, llm, provider)
    llm.script(Reply(tokens("La meta es de 80 productores capacitados [7].")))

    answer = service.answer(QUESTION)

    assert answer.written_by == "quotes" and answer.dropped_sentences == 1
    assert answer.answer == quoted.answer and not answer.abstained
    assert len(llm.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "failure", [Reply(status=500), Reply(status=429), Reply(["tarde"], wait=2.0)], ids=str
)
def test_a_failing_or_slow_model_gets_the_user_the_quoted_answer(
    indexed, embedder, llm, provider, failure, caplog
):
    service = llm_service(indexed, embedder, llm, provider, llm_timeout_seconds=0.5)
    llm.script(failure)

    with caplog.at_level(logging.WARNING):
        answer = service.answer(QUESTION)

    assert answer.written_by == "quotes" and not answer.abstained
    assert "80" in answer.answer or "capacitados" in answer.answer
    assert any("LLM answer abandoned" in r.getMessage() for r in caplog.records)
    assert len(llm.requests) == 1  # never retried: the quoted answer is given at once


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_model_cannot_overrule_an_abstention(indexed, embedder, llm, provider):
    service = llm_service(indexed, embedder, llm, provider)
    llm.script(Reply(tokens("En 2025 serán 80 productores [1].")))

    answer = service.answer("¿y en 2025?")  # a follow-up with nothing before it

    assert answer.abstained and answer.written_by == "quotes"
    assert not llm.requests


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_follow_up_is_rewritten_with_the_conversation_before_retrieval(
    indexed, embedder, llm, provider
):
    service = llm_service(indexed, embedder, llm, provider)
    n, sentence = grounded(service)
    standalone = "¿Cuántos productores de orégano deben capacitarse en secado al 2025?"
    llm.script(Reply([standalone]), Reply(tokens(sentence)))
    history = [Turn(question=QUESTION, answer="Al 2021, 60 productores [1].")]

    answer = service.answer("¿y al 2025?", history)

    condense, write = llm.requests
    assert "¿y al 2025?" in condense.prompt and "Al 2021, 60 productores" in condense.prompt
    assert standalone in write.prompt
    assert answer.question == "¿y al 2025?" and answer.written_by == "llm"


def test_the_api_key_is_sent_to_the_server_and_never_logged(indexed, embedder, llm, caplog):
    service = llm_service(
        indexed, embedder, llm, "openai", llm_api_key=SecretStr("clave-secreta-123")
    )
    n, sentence = grounded(service)
    llm.script(Reply(tokens(sentence)))

    with caplog.at_level(logging.DEBUG):
        service.answer(QUESTION)

    assert llm.requests[0].headers["authorization"] == "Bearer clave-secreta-123"
    assert "clave-secreta-123" not in caplog.text
    assert "clave-secreta-123" not in repr(service.settings)


@pytest.mark.parametrize(
    ("provider", "package"), [("openai", "langchain_openai"), ("ollama", "langchain_ollama")]
)
def test_a_missing_provider_package_is_a_spanish_error_naming_the_extra(
    indexed, monkeypatch, provider, package
):
    settings, _ = indexed
    monkeypatch.setitem(sys.modules, package, None)  # as if it were not installed
    wanted = settings.model_copy(update={"llm_provider": provider, "llm_model": "m"})

    with pytest.raises(ConfigurationError) as caught:
        LlmComposer.from_settings(wanted)

    assert "pip install 'exporta[llm]'" in str(caught.value)
    assert package.replace("_", "-") in str(caught.value)


def test_a_provider_without_a_model_name_is_refused_in_spanish(indexed):
    settings, _ = indexed
    with pytest.raises(ConfigurationError, match="EXPORTA_LLM_MODEL"):
        LlmComposer.from_settings(settings.model_copy(update={"llm_provider": "ollama"}))


def test_without_a_provider_answers_are_quoted_and_no_model_is_loaded(indexed):
    settings, _ = indexed
    assert settings.llm_provider == "none"
    assert LlmComposer.from_settings(settings) is None
