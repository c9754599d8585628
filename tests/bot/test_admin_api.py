"""The staff admin API (/api/admin/*) through TestClient, over a real index, job runner and database.

Each app gets its own index in a temporary folder (a copy of the fixture corpus, indexed by the
real JobRunner with the real embedding model), so uploads, replacements and removals are seen
over /api/documents and /api/ask exactly as users would see them.
"""

from __future__ import annotations

import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.admin.jobs import JobRunner
from bot.compose import index_service
from bot.settings import Settings, load_settings
from bot.usage import UsageLog
from bot.web import create_app
from retrieval.service import AnswerService
from retrieval.store import ChunkStore

TOKEN = "token-de-prueba-5b1f0c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FIXTURE_CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
MACA_PAGES = [
    [
        "Estudio de mercado de la maca de Junin",
        "La maca gelatinizada de Junin se exporta principalmente a Corea del Sur y Japon.",
        "Los envios de maca gelatinizada crecieron 35% en el ultimo ano.",
    ]
]
MACA_QUESTION = "¿a qué países se exporta la maca gelatinizada de Junín?"
OCEX_QUESTION = "¿cuántas OCEX tiene el Perú?"
NEW_POLICY = (
    "# Política demo de comercio exterior (versión 2025)\n\n"
    "## 1. Contexto\n\n"
    "El Perú cuenta con cuarenta y dos OCEX distribuidas en treinta y ocho economías.\n"
)
# Every admin endpoint: (method, path, request keyword arguments).
ENDPOINTS = [
    ("POST", "/api/admin/documents", {"files": {"files": ("a.txt", b"texto", "text/plain")}}),
    ("PUT", "/api/admin/documents/politica-demo", {"files": {"file": ("a.txt", b"x")}}),
    ("DELETE", "/api/admin/documents/politica-demo", {}),
    ("POST", "/api/admin/reindex", {}),
    ("GET", "/api/admin/jobs", {}),
    ("GET", "/api/admin/jobs/20250101-000000-abcdef", {}),
    ("GET", "/api/admin/audit", {}),
    ("GET", "/api/admin/report", {}),
]


@dataclass
class Admin:
    client: TestClient
    runner: JobRunner
    service: AnswerService
    settings: Settings

    def wait(self, response) -> dict:
        """The job a 202 started, once finished, as the API shows it."""
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        assert response.headers["Location"] == f"/api/admin/jobs/{job_id}"
        self.runner.wait(job_id, timeout=120)
        return self.client.get(f"/api/admin/jobs/{job_id}", headers=AUTH).json()

    def audit(self) -> list[dict]:
        return self.client.get("/api/admin/audit?limit=1000", headers=AUTH).json()["entries"]

    def doc_ids(self) -> set[str]:
        return {d["doc_id"] for d in self.client.get("/api/documents").json()["documents"]}


class RememberingEmbedder:
    """The real embedding model, remembering the passages it has embedded: these tests index the
    same fixture corpus afresh many times, and each passage needs its vector only once."""

    vectors: dict[str, np.ndarray] = {}  # shared by every test of the session

    def __init__(self, model) -> None:
        self.model = model
        self.identity = model.identity

    def embed_passages(self, texts) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.model.embed_passages(missing), strict=True))
        return np.stack([self.vectors[text] for text in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.model.embed_query(text)


def build_admin(root: Path, embedder, **changes) -> tuple:
    """(app, runner, service, settings) over a fresh index of the fixture corpus."""
    corpus = root / "corpus"
    shutil.copytree(FIXTURE_CORPUS, corpus)
    base = {"data_dir": root / "data", "corpus_dir": corpus, "admin_token": SecretStr(TOKEN)}
    settings = load_settings(**{**base, "reload_check_seconds": 0, **changes})
    runner = JobRunner(settings, index_service(settings, lambda: RememberingEmbedder(embedder)))
    report = runner.ingest_now([corpus], "cli:prueba", progress=False)
    assert not report.failed, report.failed
    service = AnswerService(ChunkStore.open(settings), embedder, settings)
    runner.on_commit = service.refresh
    app = create_app(service, settings, admin=runner, usage=UsageLog(settings))
    return app, runner, service, settings


@pytest.fixture
def admin(tmp_path, embedder):
    """An admin app of its own: tests that change the index use this one."""
    app, runner, service, settings = build_admin(tmp_path, embedder)
    with TestClient(app) as client:
        yield Admin(client, runner, service, settings)


@pytest.fixture(scope="module")
def shared(tmp_path_factory, embedder):
    """One admin app for tests that never change the index (refusals, reads)."""
    root = tmp_path_factory.mktemp("admin")
    # OCR off: a text-less PDF is refused at upload (with OCR, the job reads it).
    app, runner, service, settings = build_admin(root, embedder, max_upload_mb=1, ocr="off")
    with TestClient(app) as client:
        yield Admin(client, runner, service, settings)


def hold_at(runner: JobRunner, step: str) -> tuple[threading.Event, threading.Event]:
    """Make the next job stop at checkpoint `step` until released: (reached, release)."""
    reached, release = threading.Event(), threading.Event()

    def checkpoint(name: str) -> None:
        if name == step:
            reached.set()
            release.wait(60)

    runner.checkpoint = checkpoint
    return reached, release


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["detail"] and "Traceback" not in response.text
    return body


def pdf_bytes(pdf_builder, tmp_path: Path, pages, **kwargs) -> bytes:
    return pdf_builder(tmp_path / "doc.pdf", pages, **kwargs).read_bytes()


# -- access --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "kwargs"), ENDPOINTS)
def test_every_endpoint_refuses_a_missing_or_wrong_token_and_audits_it(
    shared, method, path, kwargs
):
    before = shared.doc_ids()
    counted = refusals(shared)
    missing = shared.client.request(method, path, **kwargs)
    wrong = shared.client.request(
        method, path, headers={"Authorization": "Bearer otro-token"}, **kwargs
    )
    basic = shared.client.request(
        method, path, headers={"Authorization": f"Basic {TOKEN}"}, **kwargs
    )

    for response in (missing, wrong, basic):
        body = assert_error(response, 401, "unauthorized")
        assert "token" in body["detail"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert shared.doc_ids() == before
    # One client's refusals are counted on its row of the window; it names the last attempt.
    latest = shared.audit()[0]
    assert (latest["action"], latest["target"], latest["actor"]) == (method, path, "web:testclient")
    assert (latest["result"], latest["detail"]) == ("unauthorized", "token incorrecto")
    assert refusals(shared) == counted + 3


def refusals(admin: Admin) -> int:
    """How many refused attempts of the test client the audit log counts."""
    rows = [e for e in admin.audit() if e["result"] == "unauthorized"]
    return sum(e["count"] for e in rows if e["actor"] == "web:testclient")


@pytest.mark.parametrize(("method", "path", "kwargs"), [*ENDPOINTS, ("GET", "/admin", {})])
def test_without_an_admin_token_the_admin_api_and_page_do_not_exist(
    service, indexed, method, path, kwargs
):
    settings = indexed[0]
    assert not settings.admin_token.get_secret_value()
    with TestClient(create_app(service, settings)) as client:
        for headers in ({}, AUTH, {"Authorization": "Bearer "}):
            response = client.request(method, path, headers=headers, **kwargs)
            assert_error(response, 404, "not_found")
            assert "WWW-Authenticate" not in response.headers


def test_without_an_admin_token_the_schema_has_no_admin_paths_and_no_method_is_allowed(
    service, indexed
):
    with TestClient(create_app(service, indexed[0])) as client:
        paths = client.get("/openapi.json").json()["paths"]
        wrong_method = client.get("/api/admin/reindex")

    assert not [p for p in paths if p.startswith("/api/admin")]
    assert_error(wrong_method, 404, "not_found")


def test_a_refused_request_with_a_huge_path_is_audited_within_the_declared_lengths(shared):
    from bot.admin.audit import audit_log

    path = "/api/admin/jobs/" + "x" * 8000
    assert_error(shared.client.get(path), 401, "unauthorized")

    entry = shared.audit()[0]
    assert entry["target"].startswith("/api/admin/jobs/xxx")
    assert len(entry["target"]) == audit_log.c.target.type.length
    assert entry["target"].endswith("…")


def test_a_flood_of_refused_requests_grows_the_audit_log_by_one_counted_row(shared):
    """400 requests with 8 KB paths wrote 400 rows (2.3 MB) before; now one row counts them."""
    rows_before, counted = len(shared.audit()), refusals(shared)
    for n in range(400):
        path = f"/api/admin/jobs/{n}" + "x" * 8000
        assert shared.client.get(path, headers={"Authorization": "Bearer no"}).status_code == 401

    assert len(shared.audit()) <= rows_before + 1  # + 1 if the window turned meanwhile
    assert refusals(shared) == counted + 400
    assert shared.audit()[0]["target"].startswith("/api/admin/jobs/399x")


def test_reads_with_the_token(shared):
    jobs = shared.client.get("/api/admin/jobs", headers=AUTH)
    assert jobs.status_code == 200 and jobs.json()["running"] is None
    assert isinstance(jobs.json()["jobs"], list)
    unknown = shared.client.get("/api/admin/jobs/no-existe", headers=AUTH)
    assert "no-existe" in assert_error(unknown, 404, "job_not_found")["detail"]
    audit = shared.client.get("/api/admin/audit?limit=5", headers=AUTH)
    assert audit.status_code == 200 and len(audit.json()["entries"]) <= 5
    entry = audit.json()["entries"][0]
    assert set(entry) == {"at", "last_at", "actor", "action", "target", "result", "detail", "count"}


def test_admin_page_is_served_without_any_secret(shared):
    page = shared.client.get("/admin")

    assert page.status_code == 200 and 'lang="es"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert TOKEN not in page.text
    assert 'id="token" type="password"' in page.text and 'name="token"' not in page.text
    assert '"staff_preparing": "Preparando…"' in page.text
    assert "Lo que los usuarios no encuentran" in page.text
    for asset in ("admin.js", "admin-report.js", "admin.css", "common.js"):
        assert shared.client.get(f"/static/{asset}").status_code == 200


# -- uploads refused ---------------------------------------------------------------------------


def text_less_pdf(tmp_path: Path) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60)  # a drawing, no text: what a scan without OCR looks like
    path = tmp_path / "escaneado.pdf"
    pdf.output(str(path))
    return path.read_bytes()


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


@pytest.mark.parametrize(
    ("case", "status", "code", "said"),
    [
        ("traversal", 400, "bad_name", "nombre del archivo"),
        ("name_of_5000_characters", 400, "bad_name", "nombre de un archivo"),
        ("png_as_pdf", 415, "unsupported_type", "no es un PDF"),
        ("encrypted", 400, "encrypted", "contraseña"),
        ("corrupt", 400, "corrupt", "dañado"),
        ("empty", 400, "empty", "vacío"),
        ("file_over_limit", 413, "too_large", "MB"),
    ],
)
def test_each_bad_upload_is_refused_in_spanish_and_nothing_changes(
    shared, pdf_builder, tmp_path, case, status, code, said
):
    good_pdf = pdf_bytes(pdf_builder, tmp_path, MACA_PAGES)
    files = {
        "traversal": ("../../etc/cron.d/estudio.pdf", good_pdf),
        "name_of_5000_characters": ("a" * 5000 + ".pdf", good_pdf),  # was "bad_form"
        "png_as_pdf": ("grafico.pdf", PNG),
        "encrypted": (
            "secreto.pdf",
            pdf_bytes(pdf_builder, tmp_path, MACA_PAGES, user_password="x"),
        ),
        "corrupt": ("roto.pdf", good_pdf[: len(good_pdf) // 3]),
        "empty": ("vacio.txt", b""),
        # Within the request's limit (1 MB + form overhead) but over the 1 MB a file may have.
        "file_over_limit": ("grande.txt", b"exportacion de cafe " * 52_500),
    }
    before = shared.doc_ids()

    response = shared.client.post(
        "/api/admin/documents", headers=AUTH, files={"files": files[case]}
    )

    body = assert_error(response, status, code)
    assert said in body["detail"]
    assert shared.doc_ids() == before
    assert shared.client.get("/api/admin/jobs", headers=AUTH).json()["running"] is None
    latest = shared.audit()[0]
    assert (latest["action"], latest["result"], latest["actor"]) == (
        "add",
        "rejected",
        "web:testclient",
    )
    assert not list(Path(shared.settings.corpus_dir).glob("*.pdf"))  # nothing written


def test_a_text_less_pdf_fails_its_job_in_spanish_and_nothing_changes(shared, tmp_path):
    """Reading a PDF's pages can take seconds (a 62 KB page inflating to 60 MB took 8.7 s inside
    the request): the job reads them, so a scan without OCR is refused there."""
    before = shared.doc_ids()
    started = shared.client.post(
        "/api/admin/documents",
        headers=AUTH,
        files={"files": ("escaneado.pdf", text_less_pdf(tmp_path))},
    )
    job = shared.wait(started)

    assert job["state"] == "failed"
    [error] = job["errors"]
    assert error["file"] == "escaneado.pdf" and "no tiene texto seleccionable" in error["reason"]
    assert shared.doc_ids() == before
    assert not list(Path(shared.settings.corpus_dir).glob("escaneado*"))
    assert not list((Path(shared.settings.data_dir) / "staging").glob("*/*"))


def test_the_upload_request_reads_no_page_the_job_does_with_its_document_shown(
    admin, tmp_path, monkeypatch
):
    from pypdf import PageObject

    read, extract_text = [], PageObject.extract_text

    def counted(page, *args, **kwargs):
        read.append(admin.runner.running().current if admin.runner.running() else None)
        return extract_text(page, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", counted)
    reached, release = hold_at(admin.runner, "staged")
    maca = padded_pdf(tmp_path, MACA_PAGES, padding=0)
    started = admin.client.post(
        "/api/admin/documents", headers=AUTH, files={"files": ("maca.pdf", maca)}
    )
    assert started.status_code == 202 and reached.wait(30)
    assert read == []  # nothing was read while the request waited
    release.set()
    job = admin.wait(started)

    assert job["state"] == "succeeded", job
    assert len(read) == len(MACA_PAGES) and set(read) == {"maca"}  # shown while it is read


def test_an_oversized_body_is_refused_before_it_is_read(shared):
    big = b"a" * (2 * 1024 * 1024)  # the limit is max_upload_mb = 1

    def streamed():  # no Content-Length: counted while read, stopped at the limit
        for start in range(0, len(big), 256 * 1024):
            yield big[start : start + 256 * 1024]

    boundary = "limite"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="g.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    form_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}

    declared = shared.client.post(
        "/api/admin/documents", headers=AUTH, files={"files": ("g.txt", big)}
    )
    chunked = shared.client.post(
        "/api/admin/documents",
        headers={**AUTH, **form_type},
        content=(part for part in [head, *streamed()]),
    )
    anonymous = shared.client.post("/api/admin/documents", files={"files": ("g.txt", big)})

    for response in (declared, chunked):
        assert "1 MB" in assert_error(response, 413, "too_large")["detail"]
    assert_error(anonymous, 401, "unauthorized")  # the token is checked first
    rejected = [e for e in shared.audit()[:3] if e["result"] == "rejected"]
    assert len(rejected) == 2 and all("too_large" in e["detail"] for e in rejected)


def test_malformed_requests_get_clear_errors(shared):
    post = shared.client.post
    not_a_form = post("/api/admin/documents", headers=AUTH, json={"files": "a.pdf"})
    no_files = post("/api/admin/documents", headers=AUTH, data={"title": "Sin archivo"})
    two_files = shared.client.put(
        "/api/admin/documents/politica-demo",
        headers=AUTH,
        files=[("file", ("a.txt", b"uno")), ("file", ("b.txt", b"dos"))],
    )
    bad_year = post(
        "/api/admin/documents",
        headers=AUTH,
        data={"year": "dos mil"},
        files={"files": ("a.txt", b"texto")},
    )
    bad_date = shared.client.get("/api/admin/report?since=31-12-2024", headers=AUTH)

    assert "archivo" in assert_error(not_a_form, 400, "no_files")["detail"]
    assert_error(no_files, 400, "no_files")
    assert "un archivo" in assert_error(two_files, 400, "one_file")["detail"]
    assert "year" in assert_error(bad_year, 422, "invalid_request")["detail"]
    assert "AAAA-MM-DD" in assert_error(bad_date, 422, "invalid_date")["detail"]


def test_unknown_documents_are_a_404(shared):
    removed = shared.client.delete("/api/admin/documents/no-existe", headers=AUTH)
    replaced = shared.client.put(
        "/api/admin/documents/no-existe", headers=AUTH, files={"file": ("a.txt", b"texto")}
    )

    for response in (removed, replaced):
        assert "no-existe" in assert_error(response, 404, "document_not_found")["detail"]
    assert shared.audit()[0]["result"] == "rejected"


# -- jobs ------------------------------------------------------------------------------------


def padded_pdf(tmp_path: Path, pages: list[list[str]], padding: int) -> bytes:
    """A real PDF made bigger (by its metadata, not its text) without adding anything to index."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.set_keywords("relleno " * (padding // 8))
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "relleno.pdf"
    pdf.output(str(path))
    return path.read_bytes()


def test_upload_is_indexed_and_answered(admin, tmp_path):
    maca = padded_pdf(tmp_path, MACA_PAGES, padding=40_000)
    assert len(maca) > admin.settings.max_body_bytes  # the API's own limit is not the uploads'
    note = "El cacao fino de aroma de San Martín se vende a Bélgica y Países Bajos.\n"
    files = [
        ("files", ("estudio-maca-junin.pdf", maca)),
        ("files", ("cacao-san-martin.txt", note.encode())),
    ]
    fields = {"kind": "estudio", "year": "2024", "region": "Junín"}

    started = admin.client.post("/api/admin/documents", headers=AUTH, files=files, data=fields)
    job = admin.wait(started)

    assert started.json()["action"] == "add" and started.json()["requested_by"] == "web:testclient"
    assert job["state"] == "succeeded", job
    assert job["total"] > 0 and job["done"] == job["total"] and job["current"] is None
    assert sorted(job["doc_ids"]) == ["cacao-san-martin", "estudio-maca-junin"]
    documents = {d["doc_id"]: d for d in admin.client.get("/api/documents").json()["documents"]}
    maca = documents["estudio-maca-junin"]
    assert (maca["kind"], maca["year"], maca["region"]) == ("estudio", 2024, "Junín")
    answer = admin.client.post("/api/ask", json={"question": MACA_QUESTION}).json()
    assert not answer["abstained"] and "Corea del Sur" in answer["answer"]
    assert answer["sources"][0]["doc_id"] == "estudio-maca-junin"
    recent = admin.client.get("/api/admin/jobs", headers=AUTH).json()
    assert job["id"] in [j["id"] for j in recent["jobs"]] and recent["running"] is None
    results = [(e["action"], e["result"]) for e in admin.audit()[:2]]
    assert results == [("add", "succeeded"), ("add", "started")]


def test_replace_and_remove_show_over_documents_and_ask(admin):
    before = admin.client.post("/api/ask", json={"question": OCEX_QUESTION}).json()
    assert "treinta OCEX" in before["answer"]

    replaced = admin.wait(
        admin.client.put(
            "/api/admin/documents/politica-demo",
            headers=AUTH,
            files={"file": ("politica-2025.md", NEW_POLICY.encode())},
        )
    )
    after = admin.client.post("/api/ask", json={"question": OCEX_QUESTION}).json()

    assert replaced["state"] == "succeeded" and replaced["doc_ids"] == ["politica-demo"]
    listed = admin.client.get("/api/documents/politica-demo").json()
    assert [v["action"] for v in listed["history"]][0] == "replaced"
    assert listed["history"][0]["indexed_by"] == "web"
    assert "cuarenta y dos OCEX" in after["answer"] and "treinta OCEX" not in after["answer"]
    assert after["sources"][0]["doc_id"] == "politica-demo"

    removed = admin.wait(admin.client.delete("/api/admin/documents/politica-demo", headers=AUTH))
    gone = admin.client.post("/api/ask", json={"question": OCEX_QUESTION}).json()

    assert removed["state"] == "succeeded"
    assert admin.doc_ids() == {"plan-regional-demo"}
    assert "politica-demo" not in {s["doc_id"] for s in gone["sources"]}
    assert "cuarenta y dos" not in gone["answer"]
    not_found = admin.client.get("/api/documents/politica-demo")
    assert_error(not_found, 404, "document_not_found")


def test_a_second_job_while_one_runs_gets_409_then_a_reindex_runs(admin):
    reached, hold = hold_at(admin.runner, "staged")
    first = admin.client.delete("/api/admin/documents/politica-demo", headers=AUTH)
    assert first.status_code == 202
    running_id = first.json()["id"]
    try:
        assert reached.wait(30)
        second = admin.client.post("/api/admin/reindex", headers=AUTH)
        upload = admin.client.post(
            "/api/admin/documents", headers=AUTH, files={"files": ("nota.txt", b"Nota de prueba.")}
        )
        progress = admin.client.get(f"/api/admin/jobs/{running_id}", headers=AUTH).json()
        listed = admin.client.get("/api/admin/jobs", headers=AUTH).json()
    finally:
        hold.set()

    for response in (second, upload):
        body = assert_error(response, 409, "job_busy")
        assert body["job_id"] == running_id and running_id in body["detail"]
    assert progress["state"] == "running" and progress["current"] == "politica-demo"
    assert listed["running"]["id"] == running_id
    assert admin.wait(first)["state"] == "succeeded"
    busy = [e for e in admin.audit() if e["result"] == "busy"]
    assert {e["action"] for e in busy} == {"reindex", "add"}
    assert all(e["detail"] == running_id for e in busy)

    # Once it is over, a reindex runs and picks up a file put in the corpus folder by hand.
    (admin.settings.corpus_dir / "nota-quinua.txt").write_text(
        "La quinua orgánica de Puno se exporta a Alemania y Francia.\n", encoding="utf-8"
    )
    job = admin.wait(admin.client.post("/api/admin/reindex", headers=AUTH))

    assert job["state"] == "succeeded" and job["action"] == "reindex"
    assert admin.doc_ids() == {"plan-regional-demo", "nota-quinua"}
    assert admin.audit()[0]["action"] == "reindex"


# -- usage report ------------------------------------------------------------------------------


def test_usage_report_lists_what_users_did_not_find(shared, service):
    usage = shared.client.app.state.web.usage
    unanswered = "¿cuál es la receta del ceviche de conchas negras?"
    for channel, user in (("web", "1.2.3.4"), ("telegram", 42)):
        answer = service.answer(unanswered)
        assert answer.abstained
        usage.record_question(
            channel=channel, user_id=user, question=unanswered, answer=answer, latency_ms=5
        )

    report = shared.client.get("/api/admin/report", headers=AUTH)
    future = shared.client.get("/api/admin/report?since=2999-01-01", headers=AUTH)

    assert report.status_code == 200, report.text
    body = report.json()
    assert body["questions"] >= 2 and body["abstained"] >= 2
    group = next(g for g in body["unanswered"] if "ceviche" in g["question"])
    assert group["count"] >= 2 and group["channels"] == ["telegram", "web"]
    assert sum(day["total"] for day in body["daily"]) == body["questions"]
    assert future.json()["questions"] == 0
    assert shared.audit()[0]["action"] == "report"


@contextmanager
def without(app, name: str):
    """The app without its `admin` or `usage` for a moment (as the CLI leaves it when off)."""
    kept = getattr(app.state.web, name)
    setattr(app.state.web, name, None)
    try:
        yield
    finally:
        setattr(app.state.web, name, kept)


def test_usage_report_without_a_usage_log_says_so(shared):
    with without(shared.client.app, "usage"):
        response = shared.client.get("/api/admin/report", headers=AUTH)

    assert "registro de uso" in assert_error(response, 503, "usage_unavailable")["detail"]


def test_without_a_job_runner_the_admin_api_says_unavailable(shared):
    with without(shared.client.app, "admin"):
        response = shared.client.post("/api/admin/reindex", headers=AUTH)

    assert_error(response, 503, "admin_unavailable")
