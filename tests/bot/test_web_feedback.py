"""👍/👎 on the web: POST /api/feedback through TestClient, stored in a real SQLite usage log."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from test_usage_channels import dump, rows
from test_web_api import QUESTION, assert_spanish_error, read_events
from test_web_browser import (  # noqa: F401 (fixtures)
    CHROMIUM,
    LiveServer,
    ask,
    browser,
    fixture_server,
    page,
    screenshot,
)

from bot.settings import load_settings
from bot.usage import UsageLog
from bot.usage.tables import questions, votes
from bot.web import api, create_app
from bot.web.feedback import QUESTION_ID_HEADER

OFF_TOPIC = "¿cuál es la receta del ceviche de conchas negras?"
REF_KEYS = {"n", "doc_id", "chunk_id", "title", "page", "section"}


@pytest.fixture
def settings(indexed):
    return indexed[0]


@pytest.fixture
def usage(tmp_path):
    return UsageLog(load_settings(data_dir=tmp_path / "usage"))


@pytest.fixture
def wait_for_ids(monkeypatch):
    """Let answers wait as long as it takes for their question id, so the header always comes."""
    monkeypatch.setattr(api, "QUESTION_ID_WAIT", 30)
    monkeypatch.setattr(api, "STREAM_QUESTION_ID_WAIT", 30)


def logged_app(service, settings, usage, **changes):
    return create_app(service, settings.model_copy(update=changes), usage=usage)


def votes_stored(usage: UsageLog) -> int:
    usage.flush(timeout=30)
    report = usage.report()  # also creates the tables when nothing was ever written
    return report.upvotes + report.downvotes


def vote_on(answer: dict, vote: int, question_id: int | None = None) -> dict:
    """The body the page sends: the answer as shown (its sources' text is ignored)."""
    return {
        "question": answer["question"],
        "answer": answer["answer"],
        "vote": vote,
        "sources": answer["sources"],
        "question_id": question_id,
    }


def test_a_vote_is_stored_for_the_web_linked_and_with_the_ip_only_hashed(
    service, settings, usage, wait_for_ids
):
    with TestClient(logged_app(service, settings, usage)) as client:
        asked = client.post("/api/ask", json={"question": QUESTION})
        question_id = int(asked.headers[QUESTION_ID_HEADER])
        answer = asked.json()
        down = client.post("/api/feedback", json=vote_on(answer, -1, question_id))
        up = client.post("/api/feedback", json=vote_on(answer, 1))  # no id: linked by text

    assert down.status_code == up.status_code == 204 and down.content == b""
    [logged] = rows(usage, questions)
    assert logged.id == question_id
    # Queued writes land in any order (the log writes on several threads): the 👎 first.
    first, second = sorted(rows(usage, votes), key=lambda vote: vote.vote)
    assert (first.channel, first.vote, first.question_id) == ("web", -1, question_id)
    assert (second.vote, second.question_id) == (1, None)
    assert first.user_hash == second.user_hash == logged.user_hash  # hashed, as the question
    assert (first.question, first.answer) == (answer["question"], answer["answer"])
    assert [set(s) for s in first.sources] == [REF_KEYS] * len(answer["sources"])
    assert first.sources[0]["chunk_id"] == answer["sources"][0]["chunk_id"]
    everything = dump(usage)
    assert "testclient" not in everything  # TestClient's client address, never stored as is
    assert answer["sources"][0]["text"][:60] not in everything  # passages stay in the index

    [downvoted] = usage.report().downvoted
    assert (downvoted.question_id, downvoted.question) == (question_id, answer["question"])
    assert (downvoted.downvotes, downvoted.channels) == (1, ["web"])


def test_the_stream_done_event_carries_the_question_id_only_with_a_usage_log(
    service, settings, usage, wait_for_ids
):
    with TestClient(logged_app(service, settings, usage)) as client:
        logged_done = read_events(client.post("/api/ask/stream", json={"question": OFF_TOPIC}))[-1]
    with TestClient(create_app(service, settings)) as client:
        plain_done = read_events(client.post("/api/ask/stream", json={"question": OFF_TOPIC}))[-1]
        plain_ask = client.post("/api/ask", json={"question": OFF_TOPIC})

    [logged] = rows(usage, questions)
    assert logged_done[0] == "done" and logged_done[1]["question_id"] == logged.id
    assert plain_done[0] == "done" and "question_id" not in plain_done[1]
    assert QUESTION_ID_HEADER not in plain_ask.headers


@pytest.mark.usefixtures("on_both_databases")
def test_a_vote_sent_to_another_server_process_is_linked_to_its_question(
    service, settings, tmp_path, wait_for_ids
):
    """Two processes on one database (each its own app and usage log): asked on one, voted on
    the other, the vote names the question (it was kept unlinked before)."""
    shared = load_settings(data_dir=tmp_path / "usage")
    one, other = UsageLog(shared), UsageLog(shared)
    with (
        TestClient(logged_app(service, settings, one)) as first,
        TestClient(logged_app(service, settings, other)) as second,
    ):
        asked = first.post("/api/ask", json={"question": QUESTION})
        question_id = int(asked.headers[QUESTION_ID_HEADER])
        voted = second.post("/api/feedback", json=vote_on(asked.json(), -1, question_id))

    assert voted.status_code == 204
    other.flush(timeout=30)
    [vote] = rows(other, votes)
    assert vote.question_id == question_id


def test_a_vote_naming_a_question_it_did_not_ask_is_kept_without_the_link(
    service, settings, usage, wait_for_ids
):
    app = logged_app(service, settings, usage)
    with TestClient(app) as asker, TestClient(app, client=("203.0.113.9", 4000)) as other:
        asked = asker.post("/api/ask", json={"question": QUESTION})
        question_id = int(asked.headers[QUESTION_ID_HEADER])
        answer = asked.json()
        someone_else = other.post("/api/feedback", json=vote_on(answer, -1, question_id))
        unknown_id = asker.post("/api/feedback", json=vote_on(answer, -1, question_id + 1000))
        other_text = asker.post(
            "/api/feedback", json={**vote_on(answer, -1, question_id), "question": OFF_TOPIC}
        )

    assert someone_else.status_code == unknown_id.status_code == other_text.status_code == 204
    stored = rows(usage, votes)
    assert len(stored) == 3  # none lost to the foreign key
    assert [v.question_id for v in stored] == [None, None, None]
    assert len({v.user_hash for v in stored}) == 2
    assert "203.0.113.9" not in dump(usage)


GOOD = {"question": QUESTION, "answer": "Respuesta [1]", "vote": 1}
SOURCE = {"n": 1, "doc_id": "d", "chunk_id": "c", "title": "t", "page": 3, "section": None}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vote": 0}, "vote"),
        ({"vote": 2}, "vote"),
        ({"vote": "1"}, "vote"),
        ({"vote": True}, "vote"),
        ({"vote": 1.0}, "vote"),
        ({"vote": None}, "vote"),
        ({"answer": ""}, "answer"),
        ({"answer": "x" * 12_001}, "answer"),
        ({"sources": [SOURCE] * 21}, "sources"),
        ({"sources": [{**SOURCE, "section": "s" * 501}]}, "sources[0].section"),
        ({"question_id": "siete"}, "question_id"),
    ],
)
def test_bad_votes_are_a_spanish_422_and_nothing_is_stored(service, settings, usage, change, field):
    with TestClient(logged_app(service, settings, usage)) as client:
        response = client.post("/api/feedback", json={**GOOD, **change})
        missing = client.post("/api/feedback", json={"question": QUESTION, "answer": "a"})

    body = assert_spanish_error(response, 422, "invalid_request")
    assert any(f"«{field}»" in error for error in body["errors"]), body
    assert "«vote»" in assert_spanish_error(missing, 422, "invalid_request")["detail"]
    assert votes_stored(usage) == 0


def test_an_oversized_vote_is_a_413(service, settings, usage):
    with TestClient(logged_app(service, settings, usage, max_body_bytes=1024)) as client:
        response = client.post("/api/feedback", json={**GOOD, "answer": "x" * 2000})

    assert "1024 bytes" in assert_spanish_error(response, 413, "body_too_large")["detail"]
    assert votes_stored(usage) == 0


def test_without_a_usage_log_votes_are_a_spanish_503(service, settings):
    with TestClient(create_app(service, settings)) as client:
        response = client.post("/api/feedback", json=GOOD)

    assert "valoraciones" in assert_spanish_error(response, 503, "usage_unavailable")["detail"]


def test_votes_count_against_the_clients_rate_limit(service, settings, usage):
    with TestClient(logged_app(service, settings, usage, rate_limit_per_minute=2)) as client:
        asked = client.post("/api/ask", json={"question": QUESTION})
        voted = client.post("/api/feedback", json=vote_on(asked.json(), 1))
        again = client.post("/api/feedback", json=vote_on(asked.json(), -1))

    assert asked.status_code == 200 and voted.status_code == 204
    assert_spanish_error(again, 429, "rate_limited")
    assert 1 <= int(again.headers["Retry-After"]) <= 60
    assert [v.vote for v in rows(usage, votes)] == [1]


def test_openapi_documents_feedback_in_spanish(service, settings):
    with TestClient(create_app(service, settings)) as client:
        spec = client.get("/openapi.json").json()

    feedback = spec["paths"]["/api/feedback"]["post"]
    assert feedback["summary"].startswith("Valorar una respuesta")
    assert "cifrada" in feedback["description"]
    assert {"204", "413", "422", "429", "503"} <= set(feedback["responses"])
    assert "valoraciones" in feedback["responses"]["503"]["description"]
    fields = spec["components"]["schemas"]["FeedbackRequest"]["properties"]
    assert fields["vote"]["enum"] == [1, -1] and "👎" in fields["vote"]["description"]
    assert "X-Exporta-Question-Id" in fields["question_id"]["description"]
    assert "question_id" in json.dumps(spec["paths"]["/api/ask/stream"]["post"]["responses"])


# The page, in headless Chromium (the fixtures of test_web_browser)

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


@pytest.fixture
def voting_server(service, settings, usage, wait_for_ids):
    with LiveServer(logged_app(service, settings, usage)) as server:
        yield server


@needs_chromium
def test_a_downvote_on_the_page_reaches_the_usage_report(page, voting_server, usage):  # noqa: F811
    page.goto(voting_server.url + "/")
    ask(page, QUESTION, turn=1)
    votes_bar = page.get_by_role("group", name="¿Te sirvió esta respuesta?")
    up = votes_bar.get_by_role("button", name="Útil", exact=True)
    down = votes_bar.get_by_role("button", name="No útil", exact=True)
    assert up.get_attribute("aria-pressed") == down.get_attribute("aria-pressed") == "false"

    down.click()
    page.locator(".voto-estado", has_text="Gracias por tu opinión").wait_for()
    assert down.get_attribute("aria-pressed") == "true" and down.is_disabled()
    assert up.get_attribute("aria-pressed") == "false" and up.is_disabled()
    screenshot(page, "web-vote.png")

    [asked] = rows(usage, questions)
    [vote] = rows(usage, votes)
    assert (vote.channel, vote.vote, vote.question_id) == ("web", -1, asked.id)
    answer = page.locator(".turno .texto-respuesta").inner_text()
    assert vote.answer.split("[")[0].strip() in answer
    [downvoted] = usage.report().downvoted
    assert downvoted.question_id == asked.id and downvoted.downvotes == 1

    page.reload()  # the vote stays cast in the restored conversation
    page.locator(".voto-estado", has_text="Gracias").wait_for()
    assert (
        page.get_by_role("button", name="No útil", exact=True).get_attribute("aria-pressed")
        == "true"
    )
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert len(rows(usage, votes)) == 1


@needs_chromium
def test_vote_errors_are_explained_and_the_keyboard_can_retry(page, voting_server, usage):  # noqa: F811
    page.goto(voting_server.url + "/")
    ask(page, QUESTION, turn=1)
    page.route("**/api/feedback", lambda route: route.abort())
    up = page.get_by_role("button", name="Útil", exact=True)
    up.click()
    page.locator(".voto-estado.error", has_text="No se pudo enviar tu opinión").wait_for()
    assert up.is_enabled()

    page.unroute("**/api/feedback")
    up.focus()
    page.keyboard.press("Enter")
    page.locator(".voto-estado", has_text="Gracias por tu opinión").wait_for()
    assert [v.vote for v in rows(usage, votes)] == [1]

    detail = {"detail": "Este servidor no guarda valoraciones.", "code": "usage_unavailable"}
    page.route(
        "**/api/feedback",
        lambda route: route.fulfill(
            status=503, content_type="application/json", body=json.dumps(detail)
        ),
    )
    ask(page, OFF_TOPIC, turn=2)
    second = page.locator(".turno").nth(1)
    second.get_by_role("button", name="No útil", exact=True).click()
    second.locator(".voto-estado", has_text="no guarda valoraciones").wait_for()
    assert second.locator("button.voto:visible").count() == 0
    ask(page, QUESTION, turn=3)  # once refused, later answers offer no vote
    assert page.locator(".turno").nth(2).locator(".votos").count() == 0


@needs_chromium
def test_without_a_usage_log_the_page_offers_no_votes(page, fixture_server):  # noqa: F811
    page.goto(fixture_server.url + "/")
    ask(page, QUESTION, turn=1)
    assert page.locator(".turno .texto-respuesta").inner_text()
    assert page.locator(".votos").count() == 0
