"""The chat page in headless Debian Chromium (Playwright), against uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from bot.settings import load_settings
from bot.web import create_app
from ingest import IndexService
from retrieval.service import AnswerService
from retrieval.store import ChunkStore
from retrieval.vector_cache import VectorCache

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (make browser)"
)
sync_api = pytest.importorskip("playwright.sync_api")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output"
QUESTION = "cuantos productores de oregano deben capacitarse en secado?"
HOSTILE_TEXT = (
    "Informe <script>alert(1)</script> sobre la <b>quinua</b> orgánica "
    '<img src=x onerror="alert(3)">. La quinua orgánica de Puno se exporta a Europa y Estados Unidos.'
)
HOSTILE_TITLE = "<i>Plan</i> de quinua <script>alert(2)</script>"


class LiveServer:
    """uvicorn serving an app on a free loopback port, in a thread."""

    def __init__(self, app) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="es-PE")
    page = context.new_page()
    page.set_default_timeout(15_000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    refused: list[str] = []  # what the Content-Security-Policy blocked: the pages need none of it
    page.on(
        "console", lambda msg: refused.append(msg.text) if "Content Security" in msg.text else None
    )
    yield page
    context.close()
    assert refused == [], refused


@pytest.fixture(scope="module")
def fixture_server(service, indexed):
    with LiveServer(create_app(service, indexed[0])) as server:
        yield server


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory, embedder):
    """A tiny separate index whose only document carries HTML in its text and title (.txt keeps
    it: only .md files are stripped of HTML at ingest)."""
    root = tmp_path_factory.mktemp("hostil")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "quinua-hostil.txt").write_text(HOSTILE_TEXT + "\n", encoding="utf-8")
    (corpus / "catalog.toml").write_text(
        f'["quinua-hostil.txt"]\ntitle = {json.dumps(HOSTILE_TITLE)}\nkind = "estudio"\n',
        encoding="utf-8",
    )
    settings = load_settings(data_dir=root / "data")
    report = IndexService(ChunkStore.open(settings), VectorCache.over(embedder)).index(
        [corpus], progress=False
    )
    assert not report.failed, report.failed
    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    with LiveServer(create_app(service, settings)) as server:
        yield server


def ask(page, question: str, turn: int) -> None:
    """Type a question, send it with Enter and wait until answer number `turn` is complete."""
    page.fill("#pregunta", question)
    page.press("#pregunta", "Enter")
    answer = page.locator(".turno").nth(turn - 1).locator(".respuesta")
    answer.and_(page.locator('[aria-busy="false"]')).wait_for()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_ask_follow_a_citation_and_follow_up(page, fixture_server):
    page.goto(fixture_server.url + "/")
    assert page.locator("h1").inner_text() == "Exporta"
    assert page.get_by_role("button", name="Preguntar").is_visible()
    page.locator("#documentos-titulo", has_text="(3)").wait_for()  # documents listed

    ask(page, QUESTION, turn=1)

    turn = page.locator(".turno").first
    assert "Respuesta lista" in page.locator("#estado").inner_text()
    assert turn.locator(".texto-respuesta").inner_text().count("[1]") >= 1
    cards = turn.locator(".tarjeta")
    assert cards.count() == 5
    assert "Plan regional demo" in cards.first.locator(".titulo").inner_text()
    assert turn.locator(".tarjeta mark").count() > 0  # the question's words highlighted
    assert not page.get_by_role("alert").count()
    screenshot(page, "web-chat.png")

    citation = turn.locator("a.cita").first
    label = citation.get_attribute("aria-label")
    assert label.startswith("Fuente 1: ")
    citation.click()
    page.locator(".pasaje-doc.citado").wait_for()
    assert "/documentos/plan-regional-demo" in page.url and "#chunk-" in page.url
    cited = page.locator(".pasaje-doc.citado")
    assert "productores" in cited.inner_text()
    assert cited.locator("mark").count() > 0
    assert page.locator(".pasaje-doc.contexto").count() >= 1  # neighbours shown for context
    assert page.locator("#titulo-documento").inner_text() == "Plan regional demo"
    screenshot(page, "web-passage.png")
    page.click("#anterior")  # walk the document from the cited passage
    page.locator(".pasaje-doc.citado", has_text="El taller de actualización").wait_for()
    assert page.locator("#siguiente").is_visible()

    page.go_back()
    page.go_back()  # the conversation survives the round trip to the passage, and a reload
    page.reload()
    page.locator(".turno .cita").first.wait_for()
    assert page.locator(".turno").count() == 1
    with page.expect_request("**/api/ask/stream") as request:
        ask(page, "¿y en 2025?", turn=2)
    history = json.loads(request.value.post_data)["history"]
    assert [h["question"] for h in history] == [QUESTION]
    second = page.locator(".turno").nth(1).locator(".texto-respuesta").inner_text()
    assert "productores capacitados" in second

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.locator(".turno").nth(1).scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "web-chat-phone.png"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"

    page.get_by_role("button", name="Nueva conversación").click()
    assert page.locator(".turno").count() == 0
    assert page.locator(".ejemplo").first.is_visible()


SLOW_ANSWERS = """
const realFetch = window.fetch;
window.fetch = (url, options) => String(url).includes("/api/ask/stream")
  ? new Promise((resolve) => setTimeout(resolve, 1500)).then(() => realFetch(url, options))
  : realFetch(url, options);
"""


def test_example_question_by_keyboard_with_a_visible_wait(page, fixture_server):
    page.add_init_script(SLOW_ANSWERS)  # hold each answer 1.5 s to see the waiting state
    page.goto(fixture_server.url + "/")
    page.locator("#documentos-titulo", has_text="(3)").wait_for()
    screenshot(page, "web-start.png")
    example = page.locator(".ejemplo").first
    example.focus()
    page.keyboard.press("Enter")

    waiting = page.locator(".turno .espera")
    waiting.wait_for()
    assert "Buscando en los documentos" in waiting.inner_text()
    assert page.locator("#enviar").is_disabled()
    assert page.locator(".respuesta").get_attribute("aria-busy") == "true"
    screenshot(page, "web-waiting.png")
    page.locator('.turno .respuesta[aria-busy="false"]').wait_for()
    assert not waiting.count() and page.locator("#enviar").is_enabled()
    assert page.locator(".texto-pregunta").inner_text() == example.inner_text()
    assert page.locator("label[for=pregunta]").inner_text() == "Tu pregunta"
    assert page.locator(".respuesta").get_attribute("aria-live") == "polite"


def test_server_error_and_dropped_connection_are_explained(page, fixture_server):
    page.goto(fixture_server.url + "/")
    page.route("**/api/ask/stream", lambda route: route.abort())
    ask(page, QUESTION, turn=1)
    alert = page.get_by_role("alert")
    assert "No se pudo conectar con el servidor" in alert.inner_text()
    assert page.input_value("#pregunta") == QUESTION  # ready to send again

    page.unroute("**/api/ask/stream")
    partial = 'event: sources\ndata: []\n\nevent: token\ndata: {"text": "Meta [1] "}\n\n'
    page.route(
        "**/api/ask/stream",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=partial),
    )
    ask(page, QUESTION, turn=2)
    assert "Se cortó la conexión" in page.get_by_role("alert").nth(1).inner_text()


def test_page_without_index_says_to_run_ingest(page, tmp_path):
    app = create_app(None, load_settings(data_dir=tmp_path / "data"))
    with LiveServer(app) as server:
        page.goto(server.url + "/")
        page.locator("#estado", has_text="exporta ingest").wait_for()
        ask(page, QUESTION, turn=1)
        assert "exporta ingest" in page.get_by_role("alert").inner_text()


def test_document_html_is_shown_as_text(page, hostile_server):
    page.goto(hostile_server.url + "/")
    ask(page, "¿a dónde se exporta la quinua orgánica de Puno?", turn=1)

    card = page.locator(".tarjeta").first
    assert "<script>alert(1)</script>" in card.locator(".pasaje").inner_text()
    assert "<b>quinua</b>" in card.locator(".pasaje").inner_text()
    assert card.locator(".titulo").inner_text() == HOSTILE_TITLE
    assert page.locator("main script, main b, main img, main i").count() == 0
    page.locator("#documentos-titulo").click()
    assert page.locator("#lista-documentos").inner_text().startswith(HOSTILE_TITLE)
    screenshot(page, "web-hostile.png")

    card.locator("a.ver-pasaje").click()
    cited = page.locator(".pasaje-doc.citado")
    cited.wait_for()
    assert "<script>alert(1)</script>" in cited.inner_text()
    assert page.locator("#titulo-documento").inner_text() == HOSTILE_TITLE
    assert page.locator("main script, main b, main img, main i").count() == 0
    assert page.dialogs == []  # no script from the document ran


def test_passage_view_without_a_chunk_starts_at_the_beginning(page, fixture_server, service):
    first = next(c for c in service.retriever.chunks if c.doc_id == "politica-demo")
    page.goto(fixture_server.url + "/documentos/politica-demo")
    cited = page.locator(".pasaje-doc.citado")
    cited.wait_for()
    assert first.text.splitlines()[0] in cited.inner_text()
    assert not page.locator("#anterior").is_visible()

    page.goto(fixture_server.url + "/documentos/politica-demo#chunk-no-existe")
    page.locator("#estado.error").wait_for()
    assert "No encontré el pasaje" in page.locator("#estado").inner_text()


def test_api_docs_work_under_the_strict_content_security_policy(page, fixture_server):
    response = page.goto(f"{fixture_server.url}/docs")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.locator(".opblock-summary-path", has_text="/api/ask").first.wait_for()
    assert page.locator(".opblock").count() >= 3
