"""A fake language-model server on 127.0.0.1: OpenAI's chat completions and Ollama's chat API.

Each request takes the next scripted `Reply` (or the default one): tokens streamed one by one as
the real servers stream them (OpenAI: server-sent `chat.completion.chunk` events and `[DONE]`;
Ollama: one JSON object a line), a status such as 429 or 500 with the provider's error body, or
a wait before the first token (a slow model). The requests are kept for the tests to read.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from retrieval.llm import LlmComposer
from retrieval.service import AnswerService
from retrieval.store import ChunkStore


@dataclass
class Reply:
    tokens: list[str] = field(default_factory=list)
    status: int = 200
    wait: float = 0.0  # seconds before the first token
    pace: float = 0.005  # seconds between tokens


@dataclass
class Request:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]  # lower-case names

    @property
    def prompt(self) -> str:
        return "\n".join(m.get("content", "") for m in self.body.get("messages", []))


class FakeLlm:
    """`with FakeLlm() as llm:` serves at `llm.openai_url` (…/v1) and `llm.ollama_url`."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply(["Sin guion."])
        self.requests: list[Request] = []
        self.finished = 0  # streams sent to their end
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.openai_url = f"http://127.0.0.1:{port}/v1"
        self.ollama_url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> FakeLlm:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies: Reply) -> None:
        """The replies to the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self._script.popleft() if self._script else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = fake._next(Request(self.path, body, headers))
                time.sleep(reply.wait)
                if self.path.endswith("/chat/completions"):
                    self._openai(body, reply)
                elif self.path == "/api/chat":
                    self._ollama(body, reply)
                else:
                    self._send(404, {"error": "not found"})

            def _send(self, status: int, data: dict) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, content_type: str, lines: list[bytes], pace: float) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Connection", "close")
                self.end_headers()
                for line in lines:
                    self.wfile.write(line)
                    self.wfile.flush()
                    time.sleep(pace)  # one token at a time, as a model writes
                with fake._lock:
                    fake.finished += 1

            def _openai(self, body: dict, reply: Reply) -> None:
                if reply.status != 200:
                    error = {"message": f"fake error {reply.status}", "type": "server_error"}
                    return self._send(reply.status, {"error": error})
                model, text = body.get("model", "fake"), "".join(reply.tokens)
                if not body.get("stream"):
                    message = {"role": "assistant", "content": text}
                    choice = {"index": 0, "message": message, "finish_reason": "stop"}
                    return self._send(200, _completion(model, "chat.completion", [choice]))
                chunks = [
                    {"index": 0, "delta": {"role": "assistant", "content": token}}
                    for token in reply.tokens
                ]
                chunks.append({"index": 0, "delta": {}, "finish_reason": "stop"})
                lines = [
                    f"data: {json.dumps(_completion(model, 'chat.completion.chunk', [c]))}\n\n"
                    .encode()
                    for c in chunks
                ]  # fmt: skip
                self._stream("text/event-stream", [*lines, b"data: [DONE]\n\n"], reply.pace)

            def _ollama(self, body: dict, reply: Reply) -> None:
                if reply.status != 200:
                    return self._send(reply.status, {"error": f"fake error {reply.status}"})
                model = body.get("model", "fake")
                at = "2026-01-01T00:00:00Z"
                parts = [
                    {"model": model, "created_at": at, "done": False,
                     "message": {"role": "assistant", "content": token}}
                    for token in reply.tokens
                ]  # fmt: skip
                parts.append({"model": model, "created_at": at, "done": True,
                              "done_reason": "stop", "message": {"role": "assistant",
                              "content": ""}})  # fmt: skip
                if not body.get("stream", True):
                    text = "".join(reply.tokens)
                    return self._send(200, {**parts[-1], "message": {"role": "assistant",
                                                                     "content": text}})  # fmt: skip
                lines = [(json.dumps(p) + "\n").encode() for p in parts]
                self._stream("application/x-ndjson", lines, reply.pace)

        return Handler


def _completion(model: str, kind: str, choices: list[dict]) -> dict:
    return {"id": "fake-1", "object": kind, "created": 0, "model": model, "choices": choices}


# -- an AnswerService whose answers the fake writes ------------------------------------------

QUESTION = "cuantos productores de oregano deben capacitarse en secado?"


def llm_service(indexed, embedder, llm: FakeLlm, provider: str, **changes) -> AnswerService:
    settings, _ = indexed
    url = llm.openai_url if provider == "openai" else llm.ollama_url
    base = {"llm_provider": provider, "llm_model": "modelo-de-prueba", "llm_base_url": url}
    settings = settings.model_copy(update={**base, **changes})
    composer = LlmComposer.from_settings(settings)
    return AnswerService(ChunkStore.open(settings), embedder, settings, composer=composer)


def tokens(text: str) -> list[str]:
    """The text in pieces of a few characters, as a model streams it."""
    return [text[i : i + 7] for i in range(0, len(text), 7)]


def grounded(service: AnswerService) -> tuple[int, str]:
    """(n, sentence): a sentence the passages the model reads for QUESTION support."""
    delib, _ = service.deliberate(QUESTION)
    evidence = service.policy.decide(delib, 600, 0, 1500).evidence
    [n] = [n for n, text in evidence.items() if "capacitados" in text and "80" in text]
    return n, f"La meta es de 80 productores capacitados en el secado de orégano [{n}]."
