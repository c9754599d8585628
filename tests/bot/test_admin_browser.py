"""The staff page /admin in headless Debian Chromium (Playwright), against uvicorn on 127.0.0.1.

A real admin app (fresh index, JobRunner, audit and usage logs) is served; the page signs in,
uploads, follows the job's progress bar to the end, and sees the document listed.
"""

from __future__ import annotations

import re

import pytest
from test_admin_api import MACA_PAGES, TOKEN, build_admin, hold_at, padded_pdf
from test_web_browser import CHROMIUM, LiveServer, browser, page, screenshot  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (make browser)"
)

HOSTILE_TITLE = "Maca <img src=x onerror=alert(1)> de Junín"
UNANSWERED = "¿cuál es la receta del ceviche de conchas negras?"


@pytest.fixture
def admin_server(tmp_path, embedder):
    app, runner, service, _ = build_admin(tmp_path, embedder)
    answer = service.answer(UNANSWERED)
    app.state.web.usage.record_question(
        channel="web", user_id="1.2.3.4", question=UNANSWERED, answer=answer, latency_ms=3
    )
    with LiveServer(app) as server:
        server.runner = runner
        yield server


# Staff say yes to every confirm(); the questions asked are kept to be checked.
ACCEPT_CONFIRMS = """
window.confirmed = [];
window.confirm = (question) => { window.confirmed.push(question); return true; };
"""


def test_sign_in_upload_follow_progress_and_see_the_document(page, admin_server, tmp_path):  # noqa: F811
    page.add_init_script(ACCEPT_CONFIRMS)
    page.goto(admin_server.url + "/admin")
    assert page.locator("label[for=token]").inner_text() == "Token de administración"
    page.fill("#token", "no-es-el-token")
    page.keyboard.press("Enter")
    page.locator("#acceso-estado.error", has_text="token").wait_for()
    assert page.locator("#panel").is_hidden()

    page.fill("#token", TOKEN)
    page.get_by_role("button", name="Entrar").click()
    page.locator("#lista-docs .doc").nth(1).wait_for()
    assert TOKEN not in page.url
    assert page.evaluate("sessionStorage.getItem('exporta.admin.token')") == TOKEN
    assert "No hay ningún trabajo en curso" in page.locator("#trabajo-estado").inner_text()
    page.locator(".informe-pregunta", has_text="ceviche").wait_for()  # what users did not find

    _, release = hold_at(admin_server.runner, "chunks_added")
    pdf = padded_pdf(tmp_path, MACA_PAGES, padding=0)
    page.set_input_files(
        "#archivos",
        [{"name": "estudio-maca-junin.pdf", "mimeType": "application/pdf", "buffer": pdf}],
    )
    page.fill("#titulo", HOSTILE_TITLE)
    page.fill("#anio", "2024")
    page.get_by_role("button", name="Subir e indexar").click()

    # Held once its chunks are stored: the bar fills up and names the document.
    progress = page.locator("#progreso-texto", has_text=re.compile(r"\b(\d+) de \1 fragmentos"))
    progress.wait_for()
    assert "Procesando: estudio-maca-junin" in progress.inner_text()
    assert re.search(r"\(100 %\) · [\d,]+ fragmentos/s", progress.inner_text())  # as on the CLI
    bar = page.locator("#progreso")
    assert bar.is_visible() and bar.evaluate("b => b.value === b.max && b.max > 0")
    assert page.locator("#trabajo-estado").get_attribute("aria-live") == "polite"
    assert "en curso" in page.locator("#trabajo-estado").inner_text()
    screenshot(page, "admin-progress.png")
    release.set()

    page.locator("#trabajo-estado", has_text="Añadir: trabajo").wait_for()
    assert "terminado" in page.locator("#trabajo-estado").inner_text()
    assert page.locator("#trabajo-avance").is_hidden()
    assert "1 añadidos" in page.locator("#trabajo-resultado").inner_text()
    item = page.locator(".doc", has=page.locator("h3", has_text="Maca"))
    item.wait_for()
    assert item.locator("h3").inner_text() == HOSTILE_TITLE  # shown as text, not HTML
    assert "estudio-maca-junin" in item.locator(".doc-meta").first.inner_text()
    item.locator("summary").click()
    assert "añadido" in item.locator(".historial li").first.inner_text()
    added = page.locator("#lista-trabajos .trabajo", has_text="Añadir · estudio-maca-junin")
    assert "terminado" in added.inner_text()
    assert page.locator("#auditoria tbody tr", has_text="terminado").count() >= 1
    assert page.locator("main img").count() == 0
    screenshot(page, "admin-done.png")

    politica = page.locator(".doc[data-doc-id=politica-demo]")
    title = politica.locator("h3").inner_text()
    politica.get_by_role("button", name="Quitar").click()
    page.locator("#trabajo-estado", has_text="Quitar: trabajo").wait_for()
    politica.wait_for(state="detached")
    asked = page.evaluate("window.confirmed")
    assert asked == [f"¿Quitar «{title}» del índice? El asistente dejará de citarlo."]
    assert page.dialogs == []  # no alert() from the title or anything else

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    screenshot(page, "admin-phone.png")

    page.reload()  # still signed in (sessionStorage), until "Cerrar sesión"
    page.locator("#lista-docs .doc").first.wait_for()
    page.get_by_role("button", name="Cerrar sesión").click()
    assert page.locator("#acceso").is_visible()
    assert page.evaluate("sessionStorage.getItem('exporta.admin.token')") is None
