"""Shared fixtures: a small Spanish fixture corpus, a real PDF, and one real index per session.

The network fails loudly: any test that tries to reach a host other than loopback errors out.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

FIXTURE_CORPUS = Path(__file__).parent / "fixtures" / "corpus"
# The answer contract (`exporta ask --json`, /api/ask): its keys and a source's, as README shows.
CONTRACT_KEYS = {
    "question",
    "answer",
    "abstained",
    "sources",
    "timings_ms",
    "written_by",
    "dropped_sentences",
}
SOURCE_KEYS = {"n", "doc_id", "title", "page", "section", "chunk_id", "text", "score", "facts"}
# CI sets it: there a missing PostgreSQL fails the run instead of leaving its tests out (read
# before the session seals every EXPORTA_* variable away).
POSTGRES_REQUIRED = os.environ.get("EXPORTA_TEST_POSTGRES") == "required"

PDF_PAGES = [
    [
        "Estudio demo de exportación de moluscos",
        "La población de pescadores artesanales de la región se estima en 1,700.",
        "El crecimiento desde 1995 ha sido del orden del 244%.",
    ],
    [
        "Cuadro N° 1 Metas de asistencia técnica",
        "ACCIÓN                      2008        2009",
        "Asistencia técnica          20%         90%",
        "La promoción de la Internaciona-",
        "lización de la acuicultura requiere apoyo crediticio del FONDEPES.",
    ],
    [
        "China exige requisitos zoo-fitosanitarios que se definen con acuerdos entre gobiernos.",
    ],
]


def build_pdf(path: Path, pages: list[list[str]], user_password: str | None = None) -> Path:
    """A real PDF with one text line per entry, written with fpdf2 (page footers numbered)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=11)
    if user_password:
        pdf.set_encryption(owner_password="propietario", user_password=user_password)
    for number, lines in enumerate(pages, start=1):
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(-15)
        pdf.cell(0, 8, str(number), align="C")
    pdf.output(str(path))
    return path


def settings_classes() -> list[type]:
    """Every layer's settings class (each keeps its own copy of the shared configuration)."""
    from pydantic_settings import BaseSettings

    import bot.settings  # noqa: F401  (defines the channels' classes)

    def below(cls: type) -> list[type]:
        return [c for sub in cls.__subclasses__() for c in (sub, *below(sub))]

    return [c for c in below(BaseSettings) if c.__module__.startswith(("bot.", "retrieval."))]


@pytest.fixture(scope="session", autouse=True)
def _sealed_settings(tmp_path_factory):
    """A developer's `.env` and `EXPORTA_*` variables never reach a test, its subprocesses or
    the session's shared index (hence session-wide); a test sets what it needs itself."""
    nowhere = str(tmp_path_factory.getbasetemp() / "sin-env" / ".env")
    with pytest.MonkeyPatch.context() as sealed:
        for name in [n for n in os.environ if n.startswith("EXPORTA_")]:
            sealed.delenv(name)
        sealed.setenv("EXPORTA_ENV_FILE", nowhere)
        for cls in settings_classes():
            if "env_file" in cls.model_config:
                sealed.setitem(cls.model_config, "env_file", nowhere)
        yield


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests talk to 127.0.0.1 only; anything else is a bug."""
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in ("127.0.0.1", "localhost", "::1")
            and not host.startswith("/")
        ):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture
def llm(monkeypatch):
    """A fake OpenAI-compatible and Ollama server (tests/fake_llm.py); while it runs, looking up
    or connecting to any host but 127.0.0.1 (a real provider) fails the test, even though the
    service would fall back to the quoted answer (openai brings its own HTTP library, so this
    watches the sockets)."""
    from fake_llm import FakeLlm

    attempts: list[str] = []
    real_lookup, real_connect = socket.getaddrinfo, socket.socket.connect
    local = ("127.0.0.1", "localhost", "::1")

    def lookup(host, *args, **kwargs):
        if host not in local:
            attempts.append(str(host))
        return real_lookup(host, *args, **kwargs)

    def connect(self, address):
        if isinstance(address, tuple) and address[0] not in local:
            attempts.append(str(address[0]))
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(socket.socket, "connect", connect)
    with FakeLlm() as server:
        yield server
    assert not attempts, f"tests must not reach a real provider: {attempts}"


@pytest.fixture(scope="session")
def postgres():
    """The session's throwaway PostgreSQL cluster (tests/postgres.py)."""
    import postgres as pg

    if not pg.available():
        if POSTGRES_REQUIRED:
            pytest.fail("EXPORTA_TEST_POSTGRES=required, but PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with pg.Cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def on_both_databases(request, monkeypatch):
    """The test runs on SQLite (the default file under its data folder) and again on a new,
    empty PostgreSQL database, named by EXPORTA_DATABASE_URL; its URL, "" for SQLite."""
    if request.param == "sqlite":
        return ""
    url = request.getfixturevalue("postgres").new_database()
    monkeypatch.setenv("EXPORTA_DATABASE_URL", url)
    return url


def pytest_collection_modifyitems(config, items):
    """A test marked `sqlite_only` (it reads the SQLite file itself) runs on SQLite only."""
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None) and item.callspec.params
        on_postgres = params and params.get("on_both_databases") == "postgresql"
        (drop if on_postgres and item.get_closest_marker("sqlite_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _fresh_shared_state(request):
    """Tests on the session's index share its database: rate-limit windows and chat histories
    (bot/state.py) are emptied after each, as every test stands for a deployment of its own."""
    yield
    if "indexed" not in request.fixturenames:
        return
    from sqlalchemy import delete, inspect

    from bot.database import connect
    from bot.state import conversations, rate_windows

    engine = connect(request.getfixturevalue("indexed")[0])
    present = set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        for table in (rate_windows, conversations):
            if table.name in present:
                conn.execute(delete(table))


CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChromaServer:
    """`chroma run` over `folder` on a free port, which stays its port across restarts."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [str(CHROMA), "run", "--path", str(self.folder), "--host", "127.0.0.1",
                   "--port", str(self.port)]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        self.stop()
        pytest.fail("chroma run did not start within 60 s")

    def stop(self) -> None:
        """The server goes away (SIGKILL: as a crash, not a clean stop)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=20)
            self._process = None


@pytest.fixture
def chroma(tmp_path):
    """Chroma's own server for this test, started; `.stop()` and `.start()` it at will."""
    if not CHROMA.exists():
        pytest.skip("the chroma CLI is not installed")
    server = ChromaServer(tmp_path / "server")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def chroma_server(chroma):
    """The URL of Chroma's own server, for this test."""
    return chroma.url


def make_corpus(folder: Path) -> Path:
    """Copy the fixture documents into `folder` and add the generated multi-page PDF."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in FIXTURE_CORPUS.iterdir():
        shutil.copy(source, folder / source.name)
    build_pdf(folder / "estudio-moluscos-demo.pdf", PDF_PAGES)
    return folder


@pytest.fixture(scope="session")
def embedder():
    """The real default embedding model (bundled e5), loaded once."""
    from retrieval.embeddings import E5Embedder

    return E5Embedder()


@pytest.fixture(scope="session")
def indexed(tmp_path_factory, embedder):
    """(settings, corpus folder) of a real index of the fixture corpus, built once per session."""
    from bot.settings import load_settings
    from ingest import IndexService
    from retrieval.store import ChunkStore
    from retrieval.vector_cache import VectorCache

    root = tmp_path_factory.mktemp("indexed")
    corpus = make_corpus(root / "corpus")
    settings = load_settings(data_dir=root / "data", corpus_dir=corpus)
    report = IndexService(ChunkStore.open(settings), VectorCache.over(embedder)).index(
        [corpus], progress=False
    )
    assert not report.failed, report.failed
    return settings, corpus


@pytest.fixture(scope="session")
def service(indexed, embedder):
    """A real AnswerService over the fixture index (read-only: do not ingest into it)."""
    from retrieval.service import AnswerService
    from retrieval.store import ChunkStore

    settings, _ = indexed
    return AnswerService(ChunkStore.open(settings), embedder, settings)


class CountingEmbedder:
    """The real model, recording which passages it had to embed."""

    def __init__(self, model) -> None:
        self.model, self.identity, self.embedded = model, model.identity, []

    def embed_passages(self, texts):
        self.embedded.extend(texts)
        return self.model.embed_passages(texts)

    def embed_query(self, text):
        return self.model.embed_query(text)


@pytest.fixture
def counting_embedder():
    """`CountingEmbedder(model)`, for test modules (they do not import conftest)."""
    return CountingEmbedder


@pytest.fixture
def pdf_builder():
    """`build_pdf`, for test modules (they do not import conftest, so any import mode works)."""
    return build_pdf


@pytest.fixture
def fixture_corpus(tmp_path):
    """A fresh copy of the fixture corpus, with its 3-page PDF, in tmp_path/corpus."""
    return make_corpus(tmp_path / "corpus")
