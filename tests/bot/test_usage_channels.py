"""Questions and votes recorded from the real channels: the web API and the Telegram bot.

The web app runs through TestClient; the bot is the real python-telegram-bot client polling the
fake Bot API server (test_telegram's `polling`). The usage log writes to a real SQLite database in a temp folder.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from fake_telegram import FakeTelegram
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from test_telegram import polling
from test_usage import ask

from bot.compose import web_app
from bot.database import connect
from bot.settings import load_settings
from bot.usage import UsageLog
from bot.usage.tables import questions, votes
from bot.web import create_app
from prompts import message

QUESTION = "cuantos productores de oregano deben capacitarse en secado?"
OFF_TOPIC = "¿cuál es la receta del ceviche de conchas negras?"
TELEGRAM_USER = 987654321
LUIS = 555123987


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def usage(tmp_path):
    return UsageLog(load_settings(data_dir=tmp_path / "usage"))


@pytest.fixture
def broken_usage(tmp_path):
    """A usage log whose database cannot be opened (a directory where the file should be)."""
    not_a_file = tmp_path / "caida.db"
    not_a_file.mkdir()
    return UsageLog(
        load_settings(data_dir=tmp_path / "usage", database_url=f"sqlite:///{not_a_file}")
    )


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        yield server


def rows(usage: UsageLog, table) -> list:
    usage.flush(timeout=30)
    with connect(usage.settings).connect() as conn:
        return conn.execute(select(table).order_by(table.c.id)).all()


def dump(usage: UsageLog) -> str:
    connection = sqlite3.connect(usage.settings.data_dir / "exporta.db")
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def web_client(service, settings, usage: UsageLog) -> TestClient:
    return TestClient(create_app(service, settings, usage=usage))


# The web API


def test_web_questions_are_recorded_with_the_client_ip_only_hashed(service, indexed, usage):
    settings, _ = indexed
    too_long = "exportar " * 300
    with web_client(service, settings, usage) as client:
        answered = client.post("/api/ask", json={"question": QUESTION}).json()
        client.post("/api/ask", json={"question": OFF_TOPIC})
        streamed = client.post("/api/ask/stream", json={"question": OFF_TOPIC})
        refused = client.post("/api/ask", json={"question": too_long})

    assert streamed.status_code == 200 and refused.status_code == 422
    logged = rows(usage, questions)
    assert Counter((r.question, r.abstained, r.error) for r in logged) == {
        (QUESTION, False, None): 1,
        (OFF_TOPIC, True, None): 2,  # /api/ask and /api/ask/stream
        (too_long, None, "InvalidQuestion"): 1,
    }
    [first] = [r for r in logged if r.question == QUESTION]
    top = answered["sources"][0]
    assert (first.top_doc_id, first.top_page, first.top_chunk_id) == (
        top["doc_id"],
        top["page"],
        top["chunk_id"],
    )
    assert first.latency_ms > 0
    assert {r.channel for r in logged} == {"web"}
    assert len({r.user_hash for r in logged}) == 1  # one client, one stable hash
    assert "testclient" not in dump(usage)  # TestClient's client address, never stored as is


def test_a_question_refused_for_its_characters_is_still_logged(service, indexed, usage):
    settings, _ = indexed
    raw = b'{"question": "que es \\ud800 agroideas \\u0000"}'
    with web_client(service, settings, usage) as client:
        for path in ("/api/ask", "/api/ask/stream"):
            headers = {"Content-Type": "application/json"}
            assert client.post(path, content=raw, headers=headers).status_code == 422

    logged = [(r.question, r.error) for r in rows(usage, questions)]
    assert logged == [("que es \ufffd agroideas \ufffd", "InvalidQuestion")] * 2


def test_web_answers_are_served_when_the_usage_database_is_down(
    service, indexed, broken_usage, caplog
):
    settings, _ = indexed
    with web_client(service, settings, broken_usage) as client:
        response = client.post("/api/ask", json={"question": QUESTION})
        streamed = client.post("/api/ask/stream", json={"question": QUESTION})

    assert response.status_code == 200 and "productores capacitados" in response.json()["answer"]
    assert "event: done" in streamed.text
    broken_usage.flush(timeout=30)
    assert "question not recorded" in caplog.text


# Telegram


def vote_buttons(reply) -> tuple[str, str]:
    keyboard = reply.params["reply_markup"]["inline_keyboard"]
    data = [b["callback_data"] for row in keyboard for b in row if b["text"] in ("👍", "👎")]
    up, down = data
    return up, down


@pytest.mark.anyio
async def test_telegram_questions_and_votes_are_recorded_linked_and_hashed(
    service, indexed, fake, usage
):
    settings, _ = indexed
    zoila, luis = fake.user(TELEGRAM_USER, "Zoila"), fake.user(LUIS, "Luis")
    async with polling(service, settings, fake, usage) as app:
        assert app.bot_data["usage"] is usage
        fake.send_text(QUESTION, chat_id=TELEGRAM_USER, user=zoila)
        [reply] = await fake.wait_sent(1)
        up, down = vote_buttons(reply)
        fake.press(reply.result, down, user=zoila)
        fake.press(reply.result, up, user=luis)
        fake.press(reply.result, up, user=zoila)  # a second vote of the same person is not kept
        await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == 3)

    thanks = [c.params.get("text") for c in fake.calls_to("answerCallbackQuery")]
    assert thanks == [
        message("telegram.feedback_thanks"),
        message("telegram.feedback_thanks"),
        message("telegram.feedback_repeated"),
    ]
    [asked] = rows(usage, questions)
    assert (asked.channel, asked.question, asked.abstained) == ("telegram", QUESTION, False)
    assert asked.top_doc_id == "plan-regional-demo" and asked.latency_ms > 0
    by_vote = {v.vote: v for v in rows(usage, votes)}
    assert set(by_vote) == {-1, 1}
    assert {v.question_id for v in by_vote.values()} == {asked.id}
    assert by_vote[-1].user_hash == asked.user_hash != by_vote[1].user_hash
    assert by_vote[-1].question == QUESTION and reply.result["text"].startswith(by_vote[-1].answer)
    assert by_vote[-1].sources and by_vote[-1].sources[0]["doc_id"] == "plan-regional-demo"
    everything = dump(usage)
    assert str(TELEGRAM_USER) not in everything and str(LUIS) not in everything
    assert "Zoila" not in everything and "Luis" not in everything


@pytest.mark.anyio
async def test_telegram_answers_and_votes_work_when_the_usage_database_is_down(
    service, indexed, fake, broken_usage, caplog
):
    settings, _ = indexed
    async with polling(service, settings, fake, broken_usage):
        fake.send_text(QUESTION)
        [reply] = await fake.wait_sent(1)
        _, down = vote_buttons(reply)
        fake.press(reply.result, down)
        await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))

    assert "productores capacitados" in reply.result["text"]
    [thanks] = fake.calls_to("answerCallbackQuery")
    assert thanks.params.get("text") == message("telegram.feedback_thanks")
    broken_usage.flush(timeout=30)
    assert "question not recorded" in caplog.text and "vote not recorded" in caplog.text


# The composition root


def test_serve_builds_one_usage_log_and_purges_old_rows_at_start_up(indexed, tmp_path):
    settings = indexed[0].model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path / 'uso.db'}",
            "usage_retention_days": 30,
            "usage_salt": SecretStr("sal-de-prueba"),
        }
    )
    ask(UsageLog(settings), "pregunta de hace 40 días", at=datetime.now(UTC) - timedelta(days=40))

    app = web_app(settings)
    usage = app.state.web.usage
    assert isinstance(usage, UsageLog)
    assert rows(usage, questions) == []  # purged when the app was built
    with TestClient(app) as client:
        assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
    assert [r.question for r in rows(usage, questions)] == [QUESTION]
