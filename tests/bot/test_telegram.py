"""The Telegram channel: the real python-telegram-bot client against a fake Bot API on 127.0.0.1.

Each test builds the Application with `build_application(service, settings)` over the real fixture
index, runs real long polling against `fake_telegram.FakeTelegram`, pushes updates and asserts on
what the bot sent. The fake rejects what Telegram rejects (bad HTML, > 4096 characters, callback
data > 64 bytes), so a message it accepted is one Telegram would accept.
"""

from __future__ import annotations

import html
import logging
import re
from contextlib import asynccontextmanager

import httpx
import pytest
from fake_telegram import FakeTelegram, parse_html, utf16_len
from fastapi import FastAPI
from pydantic import SecretStr
from telegram.request import HTTPXRequest

from bot.cli import main
from bot.telegram import build_application, webhook_router
from bot.telegram.feedback import Feedback, MemoryFeedback, UsageFeedback
from bot.telegram.redaction import SecretRedactor
from bot.telegram.render import PASSAGE_CHARS, split_html, tg_len, trim_passage
from bot.telegram.webhook import SECRET_HEADER
from prompts import message
from retrieval.contract import Answer, Turn
from retrieval.errors import ConfigurationError, IndexMissing, StoreUnavailable
from retrieval.vector_cache import VectorCache

QUESTION = "cuantos productores de oregano deben capacitarse en secado?"
GROUP = -100_200_300


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_real_telegram(monkeypatch):
    """Any request to api.telegram.org fails the test (PTB would otherwise log and retry it)."""
    attempts: list[str] = []
    real = HTTPXRequest.do_request

    async def guarded(self, url, *args, **kwargs):
        if "api.telegram.org" in url:
            attempts.append(url.split("/bot")[0])
            raise RuntimeError("a test tried to reach api.telegram.org")
        return await real(self, url, *args, **kwargs)

    monkeypatch.setattr(HTTPXRequest, "do_request", guarded)
    yield
    assert not attempts, f"tests must not reach Telegram: {attempts}"


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        yield server


class RecordingService:
    """The real service, noting each question and the history it came with."""

    writes = False  # answers are quoted, not drafted by a model

    def __init__(self, inner, failure: Exception | None = None) -> None:
        self.inner, self.failure = inner, failure
        self.calls: list[tuple[str, list[Turn]]] = []

    def answer(self, question, history=None, k=None) -> Answer:
        self.calls.append((question, list(history or [])))
        if self.failure:
            raise self.failure
        return self.inner.answer(question, history, k)

    def documents(self):
        return self.inner.documents()


def telegram_settings(settings, fake: FakeTelegram, **changes):
    """The bot's settings for this test's fake Telegram, with a database of its own (chat
    histories and rate-limit windows are kept there, and must not carry over between tests)."""
    base = {
        "telegram_token": SecretStr(fake.token),
        "telegram_base_url": fake.base_url,
        "database_url": f"sqlite:///{fake.folder / 'exporta.db'}",
    }
    return settings.model_copy(update={**base, **changes})


@asynccontextmanager
async def polling(service, settings, fake: FakeTelegram, usage=None, jobs=None, **changes):
    """The bot running as `exporta telegram` runs it: initialize, post_init, start, poll.

    Votes go to a MemoryFeedback, or with a usage log to its database (questions too).
    """
    app = build_application(
        service,
        telegram_settings(settings, fake, **changes),
        feedback=None if usage else MemoryFeedback(),
        usage=usage,
        jobs=jobs,
    )
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


def plain(call) -> str:
    return call.result["text"]


def buttons(call) -> list[dict]:
    markup = call.params.get("reply_markup") or {"inline_keyboard": []}
    return [button for row in markup["inline_keyboard"] for button in row]


def rejected(fake: FakeTelegram) -> list:
    return [c for c in fake.calls if c.status not in (0, 200, 429)]


# Commands


@pytest.mark.anyio
async def test_start_welcomes_and_its_example_buttons_ask(service, indexed, fake):
    settings, _ = indexed
    async with polling(service, settings, fake):
        fake.send_text("/start")
        [welcome] = await fake.wait_sent(1)
        text = plain(welcome)
        assert "Exporta" in text and "requisitos" in text and "metas" in text
        assert f"{len(service.documents())} documentos" in text
        examples = buttons(welcome)
        assert [b["text"] for b in examples] == message("telegram.examples").splitlines()
        assert all(b["callback_data"].startswith("ask:") for b in examples)

        fake.press(welcome.result, examples[2]["callback_data"])
        sent = await fake.wait_sent(2)

    assert "📄" in plain(sent[1])
    assert fake.calls_to("answerCallbackQuery")
    commands = fake.calls_to("setMyCommands")[0].params["commands"]
    assert [c["command"] for c in commands] == ["start", "ayuda", "fuentes", "nueva"]
    assert not rejected(fake)


@pytest.mark.anyio
async def test_help_sources_and_new_commands(service, indexed, fake):
    settings, _ = indexed
    async with polling(service, settings, fake):
        for command in ("/ayuda", "/help", "/fuentes", "/nueva"):
            fake.send_text(command)
        help_es, help_en, documents, new = await fake.wait_sent(4)

    assert "/fuentes" in plain(help_es) and "@exporta_bot" in plain(help_es)
    assert "30 minutos" in plain(help_es)
    assert plain(help_en) == plain(help_es)
    for record in service.documents():
        assert f"• {record.title} ({record.year or 's/f'})" in plain(documents)
    assert plain(new) == parse_html(message("telegram.new_conversation"))
    assert not rejected(fake)


# Questions and answers


@pytest.mark.anyio
async def test_question_gets_a_cited_html_answer_and_ver_fuentes_its_passages(
    service, indexed, fake
):
    settings, _ = indexed
    expected = service.answer(QUESTION)
    cited = [s for s in expected.sources if f"[{s.n}]" in expected.answer]
    async with polling(service, settings, fake):
        fake.send_text(QUESTION)
        [reply] = await fake.wait_sent(1)
        fake.press(reply.result, buttons(reply)[0]["callback_data"])
        passages = (await fake.wait_sent(2))[1]

    assert not rejected(fake)
    assert reply.params["parse_mode"] == "HTML"
    text = plain(reply)
    assert text.startswith(expected.answer) and "Fuentes:" in text
    assert cited and all(f"📄 {source.citation()}" in text for source in cited)
    typing = fake.calls_to("sendChatAction")[0]
    assert typing.params["action"] == "typing" and typing.at < reply.at
    assert [b["text"] for b in buttons(reply)] == ["Ver fuentes", "👍", "👎"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(reply))

    shown = plain(passages)
    assert shown.startswith("Pasajes citados")
    assert passages.params["reply_parameters"]["message_id"] == reply.result["message_id"]
    assert f"📄 {cited[0].citation()}" in shown and trim_passage(cited[0].text) in shown
    quoted = re.findall(r"<blockquote>(.*?)</blockquote>", passages.params["text"])
    assert quoted and all(len(html.unescape(q)) <= PASSAGE_CHARS + 2 for q in quoted)


@pytest.mark.anyio
async def test_feedback_is_recorded_with_question_and_answer_once_per_person(
    service, indexed, fake
):
    settings, _ = indexed
    async with polling(service, settings, fake) as app:
        fake.send_text(QUESTION)
        [reply] = await fake.wait_sent(1)
        _, up, down = (b["callback_data"] for b in buttons(reply))
        fake.press(reply.result, up)
        fake.press(reply.result, down)  # same person changes their mind: not counted twice
        fake.press(reply.result, down, user=fake.user(777, "Luis"))
        fake.press(reply.result, "vote:noexiste:1")
        fake.press(reply.result, "boton-de-otra-version")
        await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == 5)
        entries = app.bot_data["exporta"].feedback.entries

    answers = [c.params.get("text") for c in fake.calls_to("answerCallbackQuery")]
    assert answers == [
        message("telegram.feedback_thanks"),
        message("telegram.feedback_repeated"),
        message("telegram.feedback_thanks"),
        message("telegram.answer_expired"),
        message("telegram.answer_expired"),
    ]
    assert [e.helpful for e in entries] == [True, False]
    assert entries[0].question == QUESTION
    assert plain(reply).startswith(entries[0].answer)
    assert entries[0].chat_type == "private" and entries[0].sources


def test_usage_feedback_stores_one_row_per_vote_in_the_database(tmp_path):
    from sqlalchemy import select

    from bot.database import connect
    from bot.settings import load_settings
    from bot.usage import UsageLog
    from bot.usage.tables import votes

    usage = UsageLog(load_settings(data_dir=tmp_path / "data"))
    answer = Answer(question="¿Qué es la VUCE?", answer="La VUCE… [1]", abstained=False)
    recorder = UsageFeedback(usage)
    recorder.record(Feedback.about(answer, helpful=True, chat_type="private", voter=601))
    recorder.record(Feedback.about(answer, helpful=False, voter=602, question_id=None))
    usage.flush(timeout=30)
    with connect(usage.settings).connect() as conn:
        stored = conn.execute(select(votes).order_by(votes.c.id)).all()
    assert sorted(v.vote for v in stored) == [-1, 1]
    assert {v.question for v in stored} == {"¿Qué es la VUCE?"}
    assert len({v.user_hash for v in stored}) == 2 and {v.channel for v in stored} == {"telegram"}


class ScriptedComposer:
    """A language model that writes `text(question)`, in a few pieces."""

    passage_chars = 1500

    def __init__(self, text) -> None:
        self.text = text

    def stream(self, question, passages, sources):
        text = self.text(question)
        for start in range(0, len(text), 40):
            yield text[start : start + 40]

    def condense(self, question, history):
        return question


ORDINALS = [
    "uno",
    "dos",
    "tres",
    "cuatro",
    "cinco",
    "seis",
    "siete",
    "ocho",
    "nueve",
    "diez",
    "once",
    "doce",
]


def long_paragraphs(question: str) -> str:
    """Twelve long paragraphs, with characters that must be escaped in Telegram HTML."""
    body = "las metas <suben> & bajan " + "secado de orégano " * 35
    return "\n\n".join(f"Párrafo {word}: {body.strip()} [1]" for word in ORDINALS)


@pytest.mark.anyio
async def test_long_answer_is_split_into_valid_messages(indexed, embedder, fake):
    from retrieval.service import AnswerService
    from retrieval.store import ChunkStore

    settings, _ = indexed
    composer = ScriptedComposer(long_paragraphs)
    service = AnswerService(ChunkStore.open(settings), embedder, settings, composer=composer)
    async with polling(service, settings, fake):
        fake.send_text(QUESTION)
        await fake.wait_sent(1)
        await fake.wait_for(lambda: "📄" in fake.shown()[-1]["text"])
        shown = fake.shown()

    assert len(shown) >= 2 and not rejected(fake)
    assert all(utf16_len(m["text"]) <= 4096 for m in shown)
    joined = "\n\n".join(m["text"] for m in shown)
    assert all(f"Párrafo {word}: las metas <suben> & bajan" in joined for word in ORDINALS)
    assert [bool(m.get("reply_markup")) for m in shown] == [False] * (len(shown) - 1) + [True]


def test_split_html_keeps_tags_whole_in_an_oversized_paragraph():
    html = "<b>Título</b>\n\n<blockquote>" + "palabra &amp; 🌶️ otra " * 700 + "</blockquote>"
    html += "\n\n" + "x" * 9000  # one word longer than two messages
    pieces = split_html(html)
    assert len(pieces) >= 5
    for piece in pieces:
        assert tg_len(piece) <= 4096
        parse_html(piece)  # raises like Telegram on broken tags or entities
    assert pieces[0].startswith("<b>Título</b>")
    assert sum(p.count("palabra") for p in pieces) == 700
    assert sum(p.count("x") for p in pieces) == 9000


@pytest.mark.anyio
async def test_hostile_html_in_a_question_is_shown_as_text(indexed, embedder, fake):
    from retrieval.service import AnswerService
    from retrieval.store import ChunkStore

    settings, _ = indexed
    echo = ScriptedComposer(lambda question: f"Usted preguntó: {question} [1]")  # as an LLM might
    service = AnswerService(ChunkStore.open(settings), embedder, settings, composer=echo)
    hostile = (
        "<b>cuantos productores de oregano</i> se capacitan en secado</blockquote> & "
        '<script>alert("x")</script> &amp;'
    )
    async with polling(service, settings, fake):
        fake.send_text(hostile)
        [reply] = await fake.wait_sent(1)

    assert not rejected(fake)
    assert f"Usted preguntó: {hostile}" in plain(reply)


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory, embedder):
    """A one-document index whose title and text are full of HTML."""
    from bot.settings import load_settings
    from ingest import IndexService
    from retrieval.store import ChunkStore

    root = tmp_path_factory.mktemp("hostil")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "catalog.toml").write_text(
        '["guia-hostil.txt"]\ntitle = "Guía <b>rota & \\"Cía\\" <script>"\nyear = 2024\n',
        encoding="utf-8",
    )
    (corpus / "guia-hostil.txt").write_text(
        "GUÍA DE TRÁMITES\n\nEl certificado fitosanitario <script>alert(1)</script> se tramita "
        "ante SENASA & la <i>VUCE</i> en cinco días hábiles.\n\nLa exportación de palta </b> "
        "requiere registro de lugar de producción.\n",
        encoding="utf-8",
    )
    settings = load_settings(data_dir=root / "data", corpus_dir=corpus)
    report = IndexService(ChunkStore.open(settings), VectorCache.over(embedder)).index(
        [corpus], progress=False
    )
    assert not report.failed, report.failed
    return settings


@pytest.mark.anyio
async def test_hostile_html_in_a_document_is_shown_as_text(hostile_index, embedder, fake):
    from retrieval.service import AnswerService
    from retrieval.store import ChunkStore

    service = AnswerService(ChunkStore.open(hostile_index), embedder, hostile_index)
    async with polling(service, hostile_index, fake):
        fake.send_text("¿Dónde se tramita el certificado fitosanitario?")
        [reply] = await fake.wait_sent(1)
        fake.press(reply.result, buttons(reply)[0]["callback_data"])
        fake.send_text("/fuentes")
        _, passages, documents = await fake.wait_sent(3)

    assert not rejected(fake)
    title = 'Guía <b>rota & "Cía" <script>'
    assert f"📄 {title}" in plain(reply)
    assert "<script>alert(1)</script>" in plain(passages)
    assert f"• {title} (2024)" in plain(documents)


# Conversations


@pytest.mark.anyio
async def test_follow_up_gets_the_chat_history_and_nueva_forgets_it(service, indexed, fake):
    settings, _ = indexed
    recording = RecordingService(service)
    async with polling(recording, settings, fake):
        fake.send_text(QUESTION)
        [first] = await fake.wait_sent(1)
        fake.send_text("¿y en 2025?")
        fake.send_text("¿qué es APPIM?", chat_id=999)  # another chat keeps its own history
        fake.send_text("/nueva")
        fake.send_text("¿y en 2025?")
        await fake.wait_sent(4, chat_id=501)

    (_, none), (_, follow_up), (_, other_chat), (_, after_new) = recording.calls
    assert none == [] and other_chat == [] and after_new == []
    assert [t.question for t in follow_up] == [QUESTION]
    assert plain(first).startswith(follow_up[0].answer)


@pytest.mark.anyio
async def test_groups_answer_only_mentions_and_replies_without_echoing(service, indexed, fake):
    settings, _ = indexed
    recording = RecordingService(service)
    ana, beto = fake.user(601, "Ana"), fake.user(602, "Beto")
    fake.chat(GROUP, "supergroup")
    async with polling(recording, settings, fake):
        private = fake.send_text("Mi RUC es 20999999999 y que es APPIM", GROUP, user=ana)
        asked = fake.send_text("@exporta_bot que es APPIM", GROUP, user=beto, reply_to=private)
        [answer] = await fake.wait_sent(1)
        fake.send_text("@otro_bot que es APPIM", GROUP, user=ana)
        fake.send_text("¿y el CERX?", GROUP, user=ana, reply_to=answer.result)
        sent = await fake.wait_sent(2)

    assert len(sent) == 2 and len(fake.calls_to("sendChatAction")) == 2
    assert [q for q, _ in recording.calls] == ["que es APPIM", "¿y el CERX?"]
    assert answer.params["reply_parameters"]["message_id"] == asked["message_id"]
    assert sent[1].params["reply_parameters"]["message_id"] != private["message_id"]
    assert all("20999999999" not in c.params["text"] for c in fake.calls_to("sendMessage"))


# Limits, Telegram failures and errors


@pytest.mark.anyio
async def test_per_user_rate_limit_answers_politely_once(service, indexed, fake):
    settings, _ = indexed
    recording = RecordingService(service)
    async with polling(recording, settings, fake, telegram_rate_limit_per_minute=2):
        for _ in range(4):
            fake.send_text("que es APPIM")
        fake.send_text("que es APPIM", chat_id=502)  # someone else is not limited
        await fake.wait_sent(1, chat_id=502)

    mine = fake.sent(501)
    assert len(mine) == 3 and len(recording.calls) == 3
    assert "2 preguntas por minuto" in plain(mine[2])
    assert "📄" in plain(fake.sent(502)[0])


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")
async def test_telegram_429_is_waited_out(service, indexed, fake):
    settings, _ = indexed
    fake.fail_next("sendMessage", retry_after=1)
    async with polling(service, settings, fake):
        fake.send_text(QUESTION)
        await fake.wait_sent(1)

    tries = fake.calls_to("sendMessage", ok_only=False)
    assert [c.status for c in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 1.0
    assert tries[0].params["text"] == tries[1].params["text"]


@pytest.mark.anyio
async def test_network_errors_are_retried_and_the_bot_keeps_running(service, indexed, fake):
    settings, _ = indexed
    async with polling(service, settings, fake):
        fake.fail_next("getUpdates", "disconnect")
        fake.fail_next("sendMessage", "disconnect")
        fake.send_text(QUESTION)
        await fake.wait_sent(1)
        fake.send_text("que es APPIM")
        await fake.wait_sent(2)

    assert [c.status for c in fake.calls_to("sendMessage", ok_only=False)] == [0, 200, 200]
    assert [c.status for c in fake.calls_to("getUpdates", ok_only=False)][0] == 0


@pytest.mark.anyio
async def test_a_handler_error_becomes_a_friendly_message_and_is_logged(
    service, indexed, fake, caplog
):
    settings, _ = indexed
    broken = RecordingService(service, failure=RuntimeError("fallo interno en /srv/secreto"))
    async with polling(broken, settings, fake):
        fake.send_text(QUESTION)
        [reply] = await fake.wait_sent(1)

    assert plain(reply) == message("telegram.error_generic")
    assert "secreto" not in reply.params["text"]
    [record] = [r for r in caplog.records if r.name == "bot.telegram.handlers"]
    assert record.levelno == logging.ERROR and record.exc_info
    assert QUESTION in record.getMessage()  # logged with the update


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (
            StoreUnavailable("errors.store_unavailable", location="/srv/chroma", reason="caído"),
            message("telegram.service_unavailable"),
        ),
        (
            IndexMissing("errors.index_missing", location="/srv/data"),
            message("telegram.index_missing"),
        ),
        (None, "La pregunta es demasiado larga (3000 caracteres; el máximo es 2000)"),
    ],
)
async def test_service_errors_get_clear_spanish_messages(service, indexed, fake, failure, expected):
    settings, _ = indexed
    question = QUESTION if failure else "exportar " * 333 + "pal"  # 3000 characters
    async with polling(RecordingService(service, failure), settings, fake):
        fake.send_text(question)
        [reply] = await fake.wait_sent(1)

    assert plain(reply).startswith(expected)
    assert "/srv" not in plain(reply)


# Webhook mode, secrets and the command line


@pytest.mark.anyio
async def test_webhook_mode_through_fastapi_checks_the_secret(service, indexed, fake):
    settings, _ = indexed
    settings = telegram_settings(
        settings,
        fake,
        telegram_webhook_secret=SecretStr("s3creto-del-webhook"),
        telegram_webhook_url="https://exporta.example.pe/telegram/webhook",
    )
    application = build_application(service, settings, feedback=MemoryFeedback())
    api = FastAPI()
    api.include_router(webhook_router(application, settings))

    def update(update_id: int, text: str, chat_id: int) -> dict:
        return {"update_id": update_id, "message": fake.message(text, chat_id)}

    transport = httpx.ASGITransport(app=api)
    async with (
        api.router.lifespan_context(api),
        httpx.AsyncClient(transport=transport, base_url="http://exporta") as client,
    ):
        assert fake.webhook["url"] == "https://exporta.example.pe/telegram/webhook"
        assert fake.webhook["secret_token"] == "s3creto-del-webhook"
        path = settings.telegram_webhook_path
        missing = await client.post(path, json=update(1, "/start", 801))
        wrong = await client.post(
            path, json=update(2, "/start", 802), headers={SECRET_HEADER: "otro-secreto"}
        )
        right = await client.post(
            path, json=update(3, QUESTION, 803), headers={SECRET_HEADER: "s3creto-del-webhook"}
        )
        [reply] = await fake.wait_sent(1)

    assert (missing.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
    assert reply.params["chat_id"] == 803 and "📄" in plain(reply)
    assert not fake.calls_to("getUpdates")


@pytest.mark.anyio
async def test_webhook_app_starts_even_if_telegram_does_not(service, indexed, fake, caplog):
    settings = telegram_settings(indexed[0], fake, telegram_webhook_secret=SecretStr("s3creto"))
    application = build_application(service, settings, feedback=MemoryFeedback())
    api = FastAPI()
    api.include_router(webhook_router(application, settings))
    fake.fail_next("getMe", "unauthorized")  # at start-up
    fake.fail_next("getMe", "unauthorized")  # and on the first update
    update = {"update_id": 1, "message": fake.message(QUESTION, 804)}
    headers = {SECRET_HEADER: "s3creto"}
    transport = httpx.ASGITransport(app=api)
    async with (
        api.router.lifespan_context(api),
        httpx.AsyncClient(transport=transport, base_url="http://exporta") as client,
    ):
        assert not application.running
        assert "Telegram bot not started" in caplog.text
        path = settings.telegram_webhook_path
        later = await client.post(path, json=update, headers=headers)
        retried = await client.post(path, json=update, headers=headers)
        [reply] = await fake.wait_sent(1)

    assert (later.status_code, retried.status_code) == (503, 200)
    assert reply.params["chat_id"] == 804


def test_webhook_needs_a_secret(service, indexed, fake):
    settings = telegram_settings(indexed[0], fake)
    with pytest.raises(ConfigurationError, match="EXPORTA_TELEGRAM_WEBHOOK_SECRET"):
        webhook_router(build_application(service, settings, feedback=MemoryFeedback()), settings)


@pytest.mark.anyio
async def test_token_and_secret_never_reach_the_logs(service, indexed, fake, caplog):
    settings, _ = indexed
    secret = "secreto-webhook-123"
    caplog.handler.addFilter(SecretRedactor([fake.token, secret]))
    caplog.set_level(logging.DEBUG)
    async with polling(service, settings, fake, telegram_webhook_secret=SecretStr(secret)):
        fake.send_text(QUESTION)
        await fake.wait_sent(1)

    assert "[secreto]" in caplog.text  # PTB and httpx did log URLs; the token was masked
    assert fake.token not in caplog.text and secret not in caplog.text
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot.")]
    assert ours and all(fake.token not in line for line in ours)


def test_telegram_command_needs_a_token(monkeypatch, tmp_path, capsys, service, indexed):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("EXPORTA_TELEGRAM_TOKEN", "")
    # no index there either: the token is checked first, before any model or index is loaded
    assert main(["--data-dir", str(tmp_path / "sin-indice"), "telegram"]) == 2
    assert "EXPORTA_TELEGRAM_TOKEN" in capsys.readouterr().err
    with pytest.raises(ConfigurationError):
        build_application(service, indexed[0])


# -- answers written by a language model (tests/fake_llm.py) -----------------------------------


@pytest.mark.anyio
async def test_a_model_answer_is_one_message_edited_as_it_is_written(indexed, embedder, fake, llm):
    from fake_llm import Reply, grounded, llm_service, tokens

    service = llm_service(indexed, embedder, llm, "openai")
    n, sentence = grounded(service)
    written = " ".join([sentence] * 4)
    llm.script(Reply(tokens(written), pace=0.12))  # about 4 s, a sentence a second

    async with polling(service, indexed[0], fake):
        fake.send_text(QUESTION)
        await fake.wait_for(lambda: fake.shown() and buttons_of(fake.shown()[0]), timeout=20)
        edits = fake.calls_to("editMessageText")
        [shown] = fake.shown()

    assert len(fake.sent()) == 1 and not rejected(fake)
    drafts, final = edits[:-1], edits[-1]
    assert drafts and all(e.result["text"].endswith("…") for e in drafts)
    assert len(drafts) <= 4  # at most one edit every 1.2 s, not one per sentence
    assert shown["text"].startswith(written) and "📄" in shown["text"]
    assert final.params["reply_markup"] and "…" not in shown["text"].split("\n")[0]


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")
async def test_a_429_on_an_edit_is_waited_out_and_the_answer_still_finishes(
    indexed, embedder, fake, llm
):
    from fake_llm import Reply, grounded, llm_service, tokens

    service = llm_service(indexed, embedder, llm, "openai")
    _, sentence = grounded(service)
    llm.script(Reply(tokens(" ".join([sentence] * 3)), pace=0.12))
    fake.fail_next("editMessageText", retry_after=1)

    async with polling(service, indexed[0], fake):
        fake.send_text(QUESTION)
        await fake.wait_for(lambda: fake.shown() and buttons_of(fake.shown()[0]), timeout=20)
        [shown] = fake.shown()

    tries = fake.calls_to("editMessageText", ok_only=False)
    assert tries[0].status == 429 and tries[1].at - tries[0].at >= 1.0  # retry_after respected
    assert shown["text"].startswith(sentence) and "📄" in shown["text"]


@pytest.mark.anyio
async def test_a_model_that_fails_still_gets_the_user_the_quoted_answer(
    indexed, embedder, fake, llm
):
    from fake_llm import Reply, llm_service

    service = llm_service(indexed, embedder, llm, "ollama")
    llm.script(Reply(status=500))

    async with polling(service, indexed[0], fake):
        fake.send_text(QUESTION)
        await fake.wait_for(lambda: fake.shown() and buttons_of(fake.shown()[-1]))
        shown = fake.shown()

    assert not rejected(fake) and len(llm.requests) == 1
    assert "80" in shown[0]["text"] and "📄" in shown[-1]["text"]


def buttons_of(message: dict) -> list[dict]:
    markup = message.get("reply_markup") or {"inline_keyboard": []}
    return [button for row in markup["inline_keyboard"] for button in row]
