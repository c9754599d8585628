"""The web API through httpx (TestClient, ASGITransport) over the real fixture service."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from unittest.mock import ANY

import httpx
import pytest
from conftest import CONTRACT_KEYS, SOURCE_KEYS
from fastapi.testclient import TestClient

from bot.ratelimit import RateLimiter
from bot.settings import load_settings
from bot.web import create_app
from ingest import IndexService
from prompts import message
from retrieval.service import AnswerService, answer_pieces
from retrieval.store import ChunkStore
from retrieval.vector_cache import VectorCache

QUESTION = "cuantos productores de oregano deben capacitarse en secado?"
OFF_TOPIC = "¿cuál es la receta del ceviche de conchas negras?"
CITATION = re.compile(r"\[\d+\]")


@pytest.fixture
def settings(indexed):
    return indexed[0]


@pytest.fixture
def client(service, settings):
    with TestClient(create_app(service, settings)) as client:
        yield client


@pytest.fixture
def no_index_client(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data")
    with TestClient(create_app(None, settings)) as client:
        yield client


def read_events(response: httpx.Response) -> list[tuple[str, object]]:
    """(event, decoded JSON data) of a text/event-stream body."""
    events = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def assert_spanish_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["detail"] and "Traceback" not in response.text
    return body


# -- /api/ask --------------------------------------------------------------------------------


def test_ask_returns_the_answer_contract(client, service):
    response = client.post("/api/ask", json={"question": QUESTION})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == CONTRACT_KEYS
    assert not body["abstained"]
    assert CITATION.search(body["answer"])
    assert all(set(s) == SOURCE_KEYS for s in body["sources"])
    assert "plan-regional-demo" in {s["doc_id"] for s in body["sources"]}
    assert set(body["timings_ms"]) == {"retrieve", "answer", "total"}
    assert body["answer"] == service.answer(QUESTION).answer  # a thin channel over the service


def test_ask_passes_k_and_history_to_the_service(client):
    first = client.post("/api/ask", json={"question": QUESTION}).json()
    follow_up = {"question": "¿y en 2025?", "k": 2}
    alone = client.post("/api/ask", json=follow_up).json()
    history = [{"question": first["question"], "answer": first["answer"]}]
    in_context = client.post("/api/ask", json={**follow_up, "history": history}).json()

    assert len(in_context["sources"]) == 2
    assert "productores capacitados" in in_context["answer"]
    assert "productores capacitados" not in alone["answer"]


def test_ask_off_topic_is_told_what_exporta_covers_without_sources(client):
    body = client.post("/api/ask", json={"question": OFF_TOPIC}).json()

    assert body["abstained"] is True
    assert body["answer"] == message("answer.out_of_scope")
    assert body["sources"] == []


def test_concurrent_questions_get_the_same_answers_as_sequential_ones(service, settings):
    questions = [QUESTION, OFF_TOPIC, "¿Qué es la VUCE?", "¿cuántas OCEX tiene el Perú?"] * 3
    expected = [service.answer(q).answer for q in questions]

    async def ask_all() -> list[str]:
        transport = httpx.ASGITransport(app=create_app(service, settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(
                *(client.post("/api/ask", json={"question": q}) for q in questions)
            )
        return [r.json()["answer"] for r in responses]

    assert asyncio.run(ask_all()) == expected


def test_one_client_gets_one_question_answered_at_a_time_and_others_are_not_held(service, settings):
    running, most = {"ana": 0, "beto": 0}, {"ana": 0, "beto": 0}
    guard = threading.Lock()

    class Watched:
        def __init__(self, who):
            self.who = who

        def answer(self, question, history=None, k=None):
            with guard:
                running[self.who] += 1
                most[self.who] = max(most[self.who], running[self.who])
            time.sleep(0.2)
            with guard:
                running[self.who] -= 1
            return service.answer(question, history, k)

    async def flood(who: str, client: tuple[str, int]) -> list[int]:
        app = create_app(Watched(who), settings)
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            asked = [http.post("/api/ask", json={"question": QUESTION}) for _ in range(3)]
            return [r.status_code for r in await asyncio.gather(*asked)]

    assert asyncio.run(flood("ana", ("10.0.0.1", 1))) == [200, 200, 200]  # all answered, in turn
    assert most["ana"] == 1


# -- /api/ask/stream -------------------------------------------------------------------------


def test_stream_sends_sources_then_pieces_then_done(client):
    response = client.post("/api/ask/stream", json={"question": QUESTION})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = read_events(response)
    names = [name for name, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"token"} and len(names) > 3
    done = events[-1][1]
    assert set(done) == CONTRACT_KEYS
    assert events[0][1] == done["sources"]
    pieces = [data["text"] for name, data in events if name == "token"]
    assert "".join(pieces) == done["answer"]
    for piece in pieces:  # every "[" opens a whole citation: none is cut between events
        assert piece.count("[") == len(CITATION.findall(piece))
    plain = client.post("/api/ask", json={"question": QUESTION}).json()
    assert done["answer"] == plain["answer"]


def test_answer_pieces_never_cut_a_citation():
    text = "Meta de 80 productores [1] Certificar 40 ha [2][3] y al 2025, 80 ha. [1] Fin sin cita."

    pieces = answer_pieces(text)

    assert "".join(pieces) == text
    assert pieces == [
        "Meta de 80 productores [1] ",
        "Certificar 40 ha [2][3] ",
        "y al 2025, 80 ha. [1] ",
        "Fin sin cita.",
    ]
    assert answer_pieces("Una frase. Otra frase.") == ["Una frase. ", "Otra frase."]
    assert answer_pieces("") == []


def test_stream_validates_before_opening_the_stream(client):
    response = client.post("/api/ask/stream", json={"question": "   "})

    body = assert_spanish_error(response, 422, "invalid_question")
    assert "vacía" in body["detail"]


@pytest.fixture
def dropped_index_service(tmp_path, embedder):
    """A real service whose index is deleted after it opened: the store fails mid-question."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "nota.txt").write_text(
        "La VUCE digitaliza más de 360 trámites de comercio exterior.\n"
    )
    settings = load_settings(data_dir=tmp_path / "data")
    IndexService(ChunkStore.open(settings), VectorCache.over(embedder)).index(
        [corpus], progress=False
    )
    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    service.store.drop()
    return service, settings


def test_store_failure_is_a_503_or_an_error_event_without_internals(dropped_index_service):
    service, settings = dropped_index_service
    with TestClient(create_app(service, settings)) as client:
        plain = client.post("/api/ask", json={"question": "¿Qué es la VUCE?"})
        streamed = client.post("/api/ask/stream", json={"question": "¿Qué es la VUCE?"})

    body = assert_spanish_error(plain, 503, "index_unavailable")
    assert str(settings.data_dir) not in plain.text
    assert streamed.status_code == 200
    assert read_events(streamed) == [("error", {**body})]


def test_unexpected_error_is_a_spanish_500_without_stack_trace(service, settings):
    class BrokenService(AnswerService):
        def answer_events(self, question, history=None, k=None):  # /api/ask's answer() too
            raise RuntimeError("secreto interno /srv/exporta")

    broken = object.__new__(BrokenService)
    broken.__dict__.update(service.__dict__)
    with TestClient(create_app(broken, settings), raise_server_exceptions=False) as client:
        plain = client.post("/api/ask", json={"question": QUESTION})
        streamed = client.post("/api/ask/stream", json={"question": QUESTION})

    assert_spanish_error(plain, 500, "internal_error")
    assert "secreto" not in plain.text
    assert [name for name, _ in read_events(streamed)] == ["error"]
    assert "secreto" not in streamed.text


# -- documents and passages ------------------------------------------------------------------


def test_documents_lists_the_manifest(client):
    response = client.get("/api/documents")

    assert response.status_code == 200
    documents = {d["doc_id"]: d for d in response.json()["documents"]}
    assert set(documents) == {"estudio-moluscos-demo", "plan-regional-demo", "politica-demo"}
    plan = documents["plan-regional-demo"]
    assert plan["chunks"] >= 1 and len(plan["content_hash"]) == 64
    assert plan["source"] == "plan-regional-demo.txt"  # the file name, not the server's folders
    assert {"title", "kind", "year", "region", "indexed_at", "version"} <= set(plan)


def test_chunk_comes_with_its_neighbours(client, service):
    chunks = [c for c in service.retriever.chunks if c.doc_id == "plan-regional-demo"]
    middle = chunks[1]

    body = client.get(f"/api/documents/plan-regional-demo/chunks/{middle.chunk_id}").json()

    assert body["title"] == middle.title
    assert body["chunk"]["chunk_id"] == middle.chunk_id and body["chunk"]["text"] == middle.text
    assert body["previous"]["chunk_id"] == chunks[0].chunk_id
    assert body["next"]["chunk_id"] == chunks[2].chunk_id
    first = client.get(f"/api/documents/plan-regional-demo/chunks/{chunks[0].chunk_id}").json()
    assert first["previous"] is None
    last = client.get(f"/api/documents/plan-regional-demo/chunks/{chunks[-1].chunk_id}").json()
    assert last["next"] is None  # the next document's first chunk is not a neighbour
    detail = client.get("/api/documents/plan-regional-demo").json()
    assert detail["first_chunk_id"] == chunks[0].chunk_id


def test_cited_chunks_resolve(client):
    answer = client.post("/api/ask", json={"question": QUESTION}).json()
    for source in answer["sources"]:
        url = f"/api/documents/{source['doc_id']}/chunks/{source['chunk_id']}"
        assert client.get(url).json()["chunk"]["text"] == source["text"]


def test_unknown_document_or_chunk_is_a_spanish_404(client, service):
    other = next(c for c in service.retriever.chunks if c.doc_id == "politica-demo")

    no_doc = client.get("/api/documents/no-existe/chunks/x")
    no_chunk = client.get("/api/documents/plan-regional-demo/chunks/no-existe")
    wrong_doc = client.get(f"/api/documents/plan-regional-demo/chunks/{other.chunk_id}")

    assert "no-existe" in assert_spanish_error(no_doc, 404, "document_not_found")["detail"]
    assert_spanish_error(no_chunk, 404, "chunk_not_found")
    assert_spanish_error(wrong_doc, 404, "chunk_not_found")
    assert_spanish_error(client.get("/api/documents/no-existe"), 404, "document_not_found")


# -- health ----------------------------------------------------------------------------------


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["documents"] == 3 and ready.json()["chunks"] > 3


def test_without_an_index_everything_but_the_page_says_run_ingest(no_index_client):
    client = no_index_client
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200
    responses = [
        client.get("/readyz"),
        client.post("/api/ask", json={"question": QUESTION}),
        client.post("/api/ask/stream", json={"question": QUESTION}),
        client.get("/api/documents"),
        client.get("/api/documents/x/chunks/y"),
    ]
    for response in responses:
        assert "exporta ingest" in assert_spanish_error(response, 503, "index_missing")["detail"]


# -- invalid input, limits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code", "expected"),
    [
        ({"question": ""}, "invalid_question", "vacía"),
        ({"question": " \n\t "}, "invalid_question", "vacía"),
        ({"question": "¿" + "a" * 2000 + "?"}, "invalid_question", "2000"),
        ({}, "invalid_request", "falta el campo «question»"),
        ({"question": 42}, "invalid_request", "«question» debe ser un texto"),
        ({"question": QUESTION, "k": 0}, "invalid_request", "«k» debe ser como mínimo 1"),
        ({"question": QUESTION, "k": "cinco"}, "invalid_request", "«k» debe ser un número entero"),
        (
            {"question": QUESTION, "history": "hola"},
            "invalid_request",
            "«history» debe ser una lista",
        ),
        (
            {"question": QUESTION, "history": [{"answer": "x"}]},
            "invalid_request",
            "history[0].question",
        ),
        ({"pregunta": QUESTION}, "invalid_request", "«pregunta» no está permitido"),
        ([QUESTION], "invalid_request", "objeto JSON"),
    ],
)
def test_invalid_questions_get_a_clear_spanish_422(client, payload, code, expected):
    response = client.post("/api/ask", json=payload)

    body = assert_spanish_error(response, 422, code)
    assert expected in body["detail"]
    assert "Field required" not in response.text and "Input should" not in response.text


def test_malformed_json_is_a_spanish_422(client):
    response = client.post(
        "/api/ask", content=b'{"question": "hola"', headers={"Content-Type": "application/json"}
    )

    assert "no es JSON válido" in assert_spanish_error(response, 422, "invalid_request")["detail"]


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"question": "que es \\ud800 agroideas"}', "caracteres"),  # a lone surrogate
        (b'{"question": "que es \\u0000 agroideas"}', "caracteres"),  # NUL
        (b'{"question": "que es \\u001b[31m agroideas"}', "caracteres"),  # an escape sequence
        (b'{"question": "\\u200b\\u200d\\ufeff \\u00ad"}', "vacía"),  # only invisible ones
    ],
)
def test_unreadable_text_is_a_spanish_422_on_both_endpoints(client, path, raw, expected):
    response = client.post(path, content=raw, headers={"Content-Type": "application/json"})

    assert expected in assert_spanish_error(response, 422, "invalid_question")["detail"]


def test_invisible_characters_are_dropped_from_a_question(service):
    assert service.validate("que\u200b es\u00a0agro\u00adideas\ufeff") == "que es agroideas"


@pytest.mark.parametrize("body", [b'{"question": "hola \xff\xfe"}', b"\xff\xfe\x00\x01"])
def test_an_undecodable_body_is_a_spanish_422(client, body):
    response = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})

    assert "UTF-8" in assert_spanish_error(response, 422, "invalid_request")["detail"]


@pytest.mark.parametrize("k", ["5", True, 5.0])
def test_k_is_a_whole_number_not_a_text_or_a_boolean(client, k):
    response = client.post("/api/ask", json={"question": QUESTION, "k": k})

    assert (
        "«k» debe ser un número entero"
        in assert_spanish_error(response, 422, "invalid_request")["detail"]
    )


def test_oversized_body_is_a_413(service, settings):
    small = settings.model_copy(update={"max_body_bytes": 1024})
    payload = json.dumps({"question": QUESTION, "history": [{"question": "x" * 1500}]}).encode()

    def chunked():
        yield payload[:600]
        yield payload[600:]

    with TestClient(create_app(service, small)) as client:
        declared = client.post(
            "/api/ask", content=payload, headers={"Content-Type": "application/json"}
        )
        streamed = client.post(
            "/api/ask", content=chunked(), headers={"Content-Type": "application/json"}
        )

    for response in (declared, streamed):
        assert "1024 bytes" in assert_spanish_error(response, 413, "body_too_large")["detail"]


def test_rate_limit_answers_429_with_retry_after(service, settings):
    limited = settings.model_copy(update={"rate_limit_per_minute": 2})
    with TestClient(create_app(service, limited)) as client:
        first = client.post("/api/ask", json={"question": QUESTION})
        second = client.post("/api/ask/stream", json={"question": QUESTION})
        third = client.post("/api/ask", json={"question": QUESTION})
        documents = client.get("/api/documents")

    assert first.status_code == second.status_code == 200
    body = assert_spanish_error(third, 429, "rate_limited")
    assert 1 <= int(third.headers["Retry-After"]) <= 60
    assert "2 por minuto" in body["detail"]
    assert documents.status_code == 200  # only questions are limited


def test_rate_limiter_window_and_clients():
    now = [0.0]
    limiter = RateLimiter(2, window=60, clock=lambda: now[0])

    assert limiter.check("a") == 0 and limiter.check("a") == 0
    now[0] = 20.0
    assert limiter.check("a") == 40  # the first request leaves the window at t=60
    assert limiter.check("b") == 0
    now[0] = 60.5
    assert limiter.check("a") == 0
    assert RateLimiter(0).check("a") == 0  # 0 turns the limit off


def test_unknown_route_and_method_are_spanish(client):
    assert_spanish_error(client.get("/api/nada"), 404, "not_found")
    assert_spanish_error(client.get("/api/ask"), 405, "method_not_allowed")


# -- documentation and pages -----------------------------------------------------------------


def test_openapi_documents_the_api_in_spanish(client):
    spec = client.get("/openapi.json").json()

    ask = spec["paths"]["/api/ask"]["post"]
    assert ask["summary"] == "Responder una pregunta"
    assert "citas" in ask["description"]
    assert "422" in ask["responses"] and "429" in ask["responses"]
    request_schema = spec["components"]["schemas"]["AskRequest"]
    assert "examples" in request_schema["properties"]["question"]
    assert (
        "text/event-stream"
        in spec["paths"]["/api/ask/stream"]["post"]["responses"]["200"]["content"]
    )
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower(), "the API docs must work offline"
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200


def test_pages_are_served_with_their_texts(client, service):
    page = client.get("/")
    assert page.status_code == 200 and 'lang="es"' in page.text
    texts = re.search(r'<script type="application/json" id="textos">(.*?)</script>', page.text)
    assert json.loads(texts.group(1))["waiting"].startswith("Buscando")
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/documentos/plan-regional-demo").status_code == 200
    assert client.get("/documentos/no-existe").status_code == 404


# -- exporta serve ---------------------------------------------------------------------------


@contextmanager
def serving(tmp_path, **env: str):
    """`exporta serve` in a subprocess on a free port, without an index; (base URL, process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "bot.cli", "--data-dir", str(tmp_path / "data"), "serve"]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        yield base, server
    finally:
        if server.poll() is None:
            server.terminate()
            server.communicate(timeout=10)


def test_exporta_serve_starts_without_an_index_and_says_what_to_do(tmp_path):
    with serving(tmp_path) as (base, server):
        health = httpx.get(f"{base}/healthz", timeout=5)
        ready = httpx.get(f"{base}/readyz", timeout=5)
        page = httpx.get(f"{base}/", timeout=5)
        server.terminate()
        out, err = server.communicate(timeout=10)

    assert health.status_code == 200 and page.status_code == 200
    assert ready.status_code == 503 and "exporta ingest" in ready.json()["detail"]
    assert f"{base}/" in out
    assert "exporta ingest" in err  # the console says it too


@pytest.mark.parametrize(("trusted", "limited"), [("", True), ("127.0.0.1", False)])
def test_a_forged_forwarded_for_does_not_dodge_the_rate_limit(tmp_path, trusted, limited):
    env = {"EXPORTA_RATE_LIMIT_PER_MINUTE": "2", "EXPORTA_TRUSTED_PROXIES": trusted}
    with serving(tmp_path, **env) as (base, _):
        statuses = [
            httpx.post(f"{base}/api/ask", json={"question": QUESTION}, timeout=5,
                       headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(3)
        ]  # fmt: skip

    assert statuses[:2] == [503, 503]  # no index here: counted, then told to run ingest
    assert statuses[2] == (429 if limited else 503)  # behind a named proxy: three clients


def test_the_page_highlights_without_the_stopwords_retrieval_ignores(client):
    from retrieval.text import STOPWORDS

    page = client.get("/").text
    inlined = page.split('"stopwords": "', 1)[1].split('"', 1)[0].split()
    assert set(inlined) == STOPWORDS


def test_page_texts_keep_every_placeholder_of_their_template_for_the_script():
    from prompts import unfilled

    label = unfilled("web.page_source_label")
    assert "{n}" in label and "{citation}" in label
    assert unfilled("web.page_waiting") == message("web.page_waiting")


@pytest.mark.parametrize(
    "path", ["/", "/documentos/plan-regional-demo", "/docs", "/healthz", "/no-existe"]
)
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers

    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/docs/", "/api/documents/"])
def test_redirects_are_relative_and_never_echo_the_host(client, path):
    response = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)

    assert response.status_code == 307
    assert response.headers["location"] == path.rstrip("/")


# -- answers written by a language model (tests/fake_llm.py) -----------------------------------


def test_the_stream_sends_the_model_s_checked_sentences_as_they_are_written(indexed, embedder, llm):
    from fake_llm import Reply, grounded, llm_service, tokens

    service = llm_service(indexed, embedder, llm, "openai")
    n, sentence = grounded(service)
    invented = f"En 2040 serán 5000 productores [{n}]."
    llm.script(Reply(tokens(f"{sentence} {invented} {sentence}"), pace=0.1))

    events, unfinished_at_first_token = [], None
    with (
        TestClient(create_app(service, indexed[0])) as client,
        client.stream("POST", "/api/ask/stream", json={"question": QUESTION}) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
                if events[-1] == "token" and unfinished_at_first_token is None:
                    unfinished_at_first_token = llm.finished == 0
            elif line.startswith("data: ") and events[-1] == "done":
                done = json.loads(line.removeprefix("data: "))

    assert events == ["sources", "token", "token", "done"]
    assert unfinished_at_first_token  # sent while the model was still writing
    assert done["written_by"] == "llm" and done["dropped_sentences"] == 1
    assert done["answer"] == f"{sentence} {sentence}"


def test_a_model_that_is_down_gets_the_quoted_answer_not_an_error(indexed, embedder, llm, client):
    from fake_llm import llm_service

    service = llm_service(indexed, embedder, llm, "openai", llm_base_url="http://127.0.0.1:9/v1")
    quoted = client.post("/api/ask", json={"question": QUESTION}).json()

    with TestClient(create_app(service, indexed[0])) as written:
        plain = written.post("/api/ask", json={"question": QUESTION})
        streamed = written.post("/api/ask/stream", json={"question": QUESTION})

    assert plain.status_code == 200 and plain.json()["answer"] == quoted["answer"]
    assert plain.json()["written_by"] == "quotes"
    assert read_events(streamed)[-1] == ("done", {**plain.json(), "timings_ms": ANY})
