"""Shared state in the database: every process sees one rate-limit window and one chat history.

Two instances stand for two server processes; every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading

import pytest

from bot.ratelimit import RateLimiter
from bot.settings import load_settings
from bot.state import SharedConversations, SharedRateLimiter
from bot.telegram.ratelimit import UserRateLimiter
from retrieval.contract import Turn

pytestmark = pytest.mark.usefixtures("on_both_databases")


@pytest.fixture
def settings(tmp_path):
    return load_settings(data_dir=tmp_path / "data")


def test_the_window_is_one_for_every_process_and_slides(settings):
    now = [1_000.0]
    one, other = (SharedRateLimiter(settings, 2, "web", clock=lambda: now[0]) for _ in range(2))

    assert one.check("a") == 0 and other.check("a") == 0
    now[0] += 20
    assert one.check("a") == 40 and other.check("a") == 40  # the first hit leaves at +60
    assert other.check("b") == 0  # another client has its own window
    now[0] += 40.5
    assert other.check("a") == 0
    assert SharedRateLimiter(settings, 0, "web").check("a") == 0  # 0 turns it off


def test_simultaneous_requests_of_one_client_never_pass_the_limit(settings):
    limiters = [SharedRateLimiter(settings, 5, "web") for _ in range(4)]
    start, waits = threading.Barrier(4), []

    def burst(limiter):
        start.wait()
        waits.extend(limiter.check("203.0.113.9") for _ in range(5))

    threads = [threading.Thread(target=burst, args=(limiter,)) for limiter in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert waits.count(0) == 5 and len(waits) == 20


def test_telegram_users_are_counted_apart_from_web_clients_and_told_once(settings):
    now = [1_000.0]
    telegram = UserRateLimiter(settings, 2, clock=lambda: now[0])
    web = SharedRateLimiter(settings, 2, "web", clock=lambda: now[0])
    assert telegram.check(1).allowed and telegram.check(1).allowed
    refused = telegram.check(1)
    assert not refused.allowed and refused.notify and refused.retry_in == 60
    assert not telegram.check(1).notify
    assert web.check(1) == 0  # a web client "1" is someone else
    now[0] += 60
    assert telegram.check(1).allowed


def test_a_chat_continues_on_another_process_and_is_forgotten_after_silence(settings):
    now = [1_000.0]
    one, other = (SharedConversations(settings, 2, 1800, clock=lambda: now[0]) for _ in range(2))
    for n in range(3):
        (one if n % 2 else other).remember(7, Turn(question=f"pregunta {n}", answer="respuesta"))

    assert [t.question for t in one.history(7)] == ["pregunta 1", "pregunta 2"]
    assert one.history(8) == []  # another chat
    now[0] += 1799
    assert len(other.history(7)) == 2
    other.remember(7, Turn(question="pregunta 3"))  # activity restarts the idle clock
    now[0] += 1801
    assert one.history(7) == []
    one.remember(7, Turn(question="de nuevo"))
    assert [t.question for t in other.history(7)] == ["de nuevo"]  # not the expired turns
    other.forget(7)
    assert one.history(7) == []


@pytest.mark.sqlite_only  # its own, broken, SQLite URL
def test_without_the_database_each_process_keeps_its_own_window_and_no_history(tmp_path, caplog):
    broken = tmp_path / "exporta.db"
    broken.mkdir()  # SQLite cannot open it: a database that is down
    settings = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{broken}")
    limiter = SharedRateLimiter(settings, 1, "web")
    chats = SharedConversations(settings, 2, 1800)

    assert limiter.check("a") == 0 and limiter.check("a") > 0  # still limited, locally
    chats.remember(1, Turn(question="hola"))
    assert chats.history(1) == []
    assert "counted in this process only" in caplog.text and "history unavailable" in caplog.text
    assert RateLimiter(1).check("a") == 0


def test_an_answer_s_buttons_work_on_any_process_and_a_vote_counts_once(settings):
    from concurrent.futures import Future

    from bot.state import KEEP_ANSWERS_SECONDS, SharedAnswers
    from retrieval.contract import Answer

    now = [1_000.0]
    sender, other = (SharedAnswers(settings, clock=lambda: now[0]) for _ in range(2))
    answer = Answer(question="¿Qué es la VUCE?", answer="La ventanilla única [1].", abstained=False)
    recorded: Future = Future()
    answer_id = sender.add(answer, chat_id=77, recorded=recorded)

    seen = other.get(answer_id)
    assert (seen.answer, seen.chat_id, seen.question_id) == (answer, 77, None)
    recorded.set_result(41)  # the usage log wrote the question
    assert other.get(answer_id).question_id == 41
    assert other.vote(answer_id, 5) and not sender.vote(answer_id, 5)  # once, whoever counts
    assert sender.vote(answer_id, 6)
    assert other.get("no-existe") is None
    now[0] += KEEP_ANSWERS_SECONDS + 1
    assert other.get(answer_id) is None  # expired for a process that did not send it
