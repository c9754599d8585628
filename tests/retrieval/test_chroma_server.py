"""The same index code against Chroma's own server (`chroma run`), and a clear error when it is down."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import free_port

from bot.settings import load_settings
from ingest import IndexService
from prompts import message
from retrieval.errors import StoreUnavailable
from retrieval.service import AnswerService
from retrieval.store import ChunkStore
from retrieval.vector_cache import VectorCache

FIXTURE_TXT = Path(__file__).parents[1] / "fixtures" / "corpus" / "plan-regional-demo.txt"


def test_server_mode_indexes_and_answers(chroma_server, tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURE_TXT, corpus / FIXTURE_TXT.name)
    settings = load_settings(chroma_url=chroma_server, data_dir=tmp_path / "unused")

    report = IndexService(ChunkStore.open(settings), VectorCache.over(embedder)).index(
        [corpus], progress=False
    )
    assert report.added == ["plan-regional-demo"]

    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    answer = service.answer("que significa APPIM")
    assert not answer.abstained
    assert "Asociación de Productores de Pisco de Moquegua" in answer.answer
    assert not (tmp_path / "unused").exists(), "server mode must not write an embedded index"


def test_store_down_is_a_clear_spanish_error(tmp_path):
    settings = load_settings(chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreUnavailable) as error:
        ChunkStore.open(settings)
    assert "No se pudo conectar con el almacén de vectores" in str(error.value)
    assert "servidor de Chroma" in str(error.value)


def test_a_chroma_server_that_goes_away_is_a_spanish_503_then_answers_again(
    chroma, tmp_path, embedder, caplog
):
    from fastapi.testclient import TestClient

    from bot.web import create_app

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURE_TXT, corpus / FIXTURE_TXT.name)
    settings = load_settings(chroma_url=chroma.url, data_dir=tmp_path / "data")
    IndexService(ChunkStore.open(settings), VectorCache.over(embedder)).index([corpus])
    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    question = {"question": "que significa APPIM"}

    with TestClient(create_app(service, settings)) as client:
        assert client.post("/api/ask", json=question).status_code == 200
        chroma.stop()
        down = client.post("/api/ask", json=question)
        chroma.start()  # back, on the same port: nothing restarts on our side
        again = client.post("/api/ask", json=question)

    assert down.status_code == 503 and down.json()["code"] == "index_unavailable"
    assert down.json()["detail"] == message("web.unavailable")  # the address stays in the log
    assert "Traceback" not in down.text
    assert again.status_code == 200 and not again.json()["abstained"]
    assert "Revisa que el servidor de Chroma esté en marcha" in caplog.text
