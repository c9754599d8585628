"""Two `exporta serve` processes, one deployment: Chroma's own server, one PostgreSQL, a data folder
each (as on two machines) and the corpus folder shared. What one server does, the other sees."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from conftest import free_port, make_corpus

from bot.settings import load_settings
from ingest import IndexService
from retrieval.store import ChunkStore
from retrieval.vector_cache import VectorCache

TOKEN = "token-de-prueba"
STAFF = {"Authorization": f"Bearer {TOKEN}"}
QUESTION = "cuantos productores de oregano deben capacitarse en secado?"
CACAO = (
    "Estudio del cacao de San Martín\n\n"
    "El cacao fino de aroma de San Martín se exporta sobre todo a Bélgica y a los Países Bajos.\n"
)


def paragraphs(n: int) -> str:
    """A long document (its job takes seconds to embed), of sentences unlike the corpus."""
    crops = ["quinua", "kiwicha", "cañihua", "tarwi", "maca", "yacón", "sacha inchi", "camu camu"]
    return "\n\n".join(
        f"El programa {i} de la cadena de {crops[i % len(crops)]} capacitará a {10 + i} "
        f"asociaciones de la provincia número {i} en buenas prácticas de cosecha y poscosecha."
        for i in range(n)
    )


@contextmanager
def serving(env: dict[str, str], data_dir):
    port = free_port()
    command = [sys.executable, "-m", "bot.cli", "--data-dir", str(data_dir), "serve",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "serve was not ready within 90 s"
            time.sleep(0.2)
        yield httpx.Client(base_url=base, timeout=60)
    finally:
        server.terminate()
        server.communicate(timeout=20)


def ask(server: httpx.Client, question: str, client: str, history=()) -> httpx.Response:
    """A question from `client` (told apart by X-Forwarded-For from the trusted proxy)."""
    body = {"question": question, "history": list(history)}
    return server.post("/api/ask", json=body, headers={"X-Forwarded-For": client})


def finished(server: httpx.Client, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while (job := server.get(f"/api/admin/jobs/{job_id}", headers=STAFF).json())["state"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    return job


@pytest.fixture
def two_servers(tmp_path, chroma_server, postgres, embedder):
    corpus = make_corpus(tmp_path / "corpus")  # shared, as a network folder would be
    env = {
        "EXPORTA_CHROMA_URL": chroma_server,
        "EXPORTA_DATABASE_URL": postgres.new_database(),
        "EXPORTA_CORPUS_DIR": str(corpus),
        "EXPORTA_ADMIN_TOKEN": TOKEN,
        "EXPORTA_USAGE_SALT": "sal-compartida",
        "EXPORTA_RATE_LIMIT_PER_MINUTE": "3",
        "EXPORTA_TRUSTED_PROXIES": "127.0.0.1",
        "EXPORTA_RELOAD_CHECK_SECONDS": "1",
        "EXPORTA_OCR": "off",
    }
    settings = load_settings(data_dir=tmp_path / "a", chroma_url=chroma_server, corpus_dir=corpus)
    report = IndexService(ChunkStore.open(settings), VectorCache.over(embedder)).index(
        [corpus], progress=False
    )
    assert not report.failed, report.failed
    with ExitStack() as stack:
        yield [stack.enter_context(serving(env, tmp_path / name)) for name in ("a", "b")]


def test_two_servers_share_conversations_limits_documents_and_the_job_lock(two_servers):
    a, b = two_servers

    # A conversation begun on one server goes on on the other.
    first = ask(a, QUESTION, "198.51.100.1").json()
    alone = ask(b, "¿y en 2021?", "198.51.100.2").json()
    turn = {"question": first["question"], "answer": first["answer"]}
    follow_up = ask(b, "¿y en 2021?", "198.51.100.1", [turn]).json()
    assert alone["abstained"] and not follow_up["abstained"]
    assert follow_up["sources"][0]["doc_id"] == first["sources"][0]["doc_id"]

    # One client's limit (3 a minute) holds across both: it has asked twice already.
    assert ask(a, QUESTION, "198.51.100.1").status_code == 200
    refused = ask(b, QUESTION, "198.51.100.1")
    assert refused.status_code == 429 and "3 por minuto" in refused.json()["detail"]

    # A document uploaded through one is answered by the other, once it reloads (1 s).
    files = {"files": ("cacao-san-martin.txt", CACAO.encode())}
    job = finished(a, a.post("/api/admin/documents", headers=STAFF, files=files).json()["id"])
    assert job["state"] == "succeeded", job
    question, started = "¿A qué países se exporta el cacao de San Martín?", time.monotonic()
    for n in range(100):  # a new client address each time: the limit is not what is tested
        ans = ask(b, question, f"203.0.113.{n}").json()
        if any(s["doc_id"] == "cacao-san-martin" for s in ans["sources"]):
            break
        assert time.monotonic() - started < 10, ans
        time.sleep(0.3)
    assert "Bélgica" in ans["answer"]

    # A re-index asked of one server while the other runs a job: 409, naming that job.
    files = {"files": ("cadenas-andinas.txt", paragraphs(60).encode())}
    running = a.post("/api/admin/documents", headers=STAFF, files=files).json()
    busy = b.post("/api/admin/reindex", headers=STAFF)
    assert busy.status_code == 409 and busy.json()["job_id"] == running["id"]
    assert finished(a, running["id"])["state"] == "succeeded"
