"""`exporta serve` with a bot token: one web app that also answers on Telegram (polling mode)."""

from __future__ import annotations

import time

import pytest
from fake_telegram import FakeTelegram
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.compose import telegram_routers
from bot.web import create_app

QUESTION = "cuantos productores de oregano deben capacitarse en secado?"


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the bot"
        time.sleep(0.05)


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        yield server


def test_web_app_polls_telegram_and_answers_there_too(service, indexed, fake):
    settings, _ = indexed
    settings = settings.model_copy(
        update={"telegram_token": SecretStr(fake.token), "telegram_base_url": fake.base_url}
    )
    app = create_app(service, settings, routers=telegram_routers(service, settings, usage=None))

    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        fake.send_text(QUESTION)
        wait_until(lambda: fake.sent(501))
        web = client.post("/api/ask", json={"question": QUESTION}).json()

    [reply] = fake.sent(501)
    assert "productores capacitados" in reply.result["text"]
    assert "productores capacitados" in web["answer"]
    assert fake.calls_to("getUpdates"), "the bot polled the Bot API"


def test_no_token_means_no_bot(service, indexed):
    settings, _ = indexed
    assert telegram_routers(service, settings, usage=None) == []
