"""Staff commands in Telegram (/indexar, /reindexar, /estado) through the fake Bot API server.

The real python-telegram-bot client polls the fake server; documents reach the bot as Telegram
sends them (getFile, then a download), and the real JobRunner indexes them into a fresh index
with the real embedding model.
"""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

import anyio
import pytest
from fake_telegram import FakeTelegram
from test_admin_api import MACA_PAGES, PNG, build_admin, hold_at, padded_pdf
from test_telegram import plain, polling

STAFF, STRANGER = 501, 777
MACA_QUESTION = "¿a qué países se exporta la maca gelatinizada de Junín?"
ALL_DONE = re.compile(r"\b(\d+) de \1 fragmentos")


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def admin(tmp_path, embedder):
    """(runner, service, settings) over a fresh index of the fixture corpus: jobs run on it."""
    _, runner, service, settings = build_admin(tmp_path, embedder)
    return runner, service, settings


@pytest.fixture(scope="module")
def untouched(tmp_path_factory, embedder):
    """The same, shared by the tests where no job may start."""
    _, runner, service, settings = build_admin(tmp_path_factory.mktemp("staff"), embedder)
    return runner, service, settings


@asynccontextmanager
async def staff_bot(admin, fake, with_jobs: bool = True, **changes):
    """The bot with user 501 as staff and the job runner (as the CLI wires it)."""
    runner, service, settings = admin
    changes.setdefault("telegram_staff_ids", frozenset({STAFF}))
    jobs = runner if with_jobs else None
    async with polling(service, settings, fake, jobs=jobs, **changes) as app:
        app.bot_data["staff"].poll_seconds = 0.05
        yield app


def edits(fake: FakeTelegram) -> list:
    return fake.calls_to("editMessageText")


async def anyio_to_thread(function, *args):
    return await anyio.to_thread.run_sync(function, *args)


@pytest.mark.anyio
async def test_staff_sends_a_pdf_with_indexar_and_hears_progress_and_result(admin, fake, tmp_path):
    runner, service, _ = admin
    reached, release = hold_at(runner, "chunks_added")
    pdf = padded_pdf(tmp_path, MACA_PAGES, padding=0)
    async with staff_bot(admin, fake) as app:
        app.bot_data["staff"].edit_seconds = 0
        sent = fake.send_document("estudio-maca-junin.pdf", pdf, caption="/indexar Maca de Junín")
        [started] = await fake.wait_sent(1, STAFF)
        assert await anyio_to_thread(reached.wait, 30)
        # Held after its chunks are stored: the progress message comes to show them all.
        await fake.wait_for(lambda: any(ALL_DONE.search(plain(c)) for c in edits(fake)))
        release.set()
        result = (await fake.wait_sent(2, STAFF))[1]

        fake.send_text(MACA_QUESTION, chat_id=STAFF)
        answer = (await fake.wait_sent(3, STAFF))[2]

    [job] = [j for j in runner.recent() if j.action == "add"]
    assert job.state == "succeeded" and job.requested_by == f"telegram:{STAFF}"
    assert "estudio-maca-junin.pdf" in plain(started) and job.id in plain(started)
    assert started.params["reply_parameters"]["message_id"] == sent["message_id"]
    progress = plain(edits(fake)[-1])
    assert f"{job.done} de {job.total} fragmentos" in progress and "estudio-maca-junin" in progress
    assert "✅" in plain(result) and job.id in plain(result) and "1 añadidos" in plain(result)
    assert [c.params["file_id"] for c in fake.calls_to("getFile")] == [sent["document"]["file_id"]]
    assert fake.calls_to("download")
    record = next(r for r in service.documents() if r.doc_id == "estudio-maca-junin")
    assert record.title == "Maca de Junín"  # the caption after /indexar
    assert "Corea del Sur" in plain(answer)  # answered from the new document at once
    actions = [(e["actor"], e["action"], e["result"]) for e in runner.audit.entries(2)]
    assert actions == [(f"telegram:{STAFF}", "add", r) for r in ("succeeded", "started")]


@pytest.mark.anyio
async def test_strangers_are_refused_politely_and_the_refusal_is_audited(untouched, fake, tmp_path):
    runner, _, _ = untouched
    jobs_before = runner.recent()
    stranger = fake.user(STRANGER, "Pedro")
    async with staff_bot(untouched, fake):
        fake.send_document("plan.pdf", padded_pdf(tmp_path, MACA_PAGES, 0), "/indexar", STRANGER)
        fake.send_text("/reindexar", chat_id=STRANGER, user=stranger)
        fake.send_text("/estado", chat_id=STRANGER, user=stranger)
        replies = await fake.wait_sent(3, STRANGER)

    assert all("solo para el personal" in plain(reply) for reply in replies)
    assert not fake.calls_to("getFile") and runner.recent() == jobs_before
    # The stranger's three refusals are counted on one row, named after the last one.
    [refused] = [e for e in runner.audit.entries() if e["actor"] == f"telegram:{STRANGER}"]
    assert (refused["result"], refused["count"]) == ("unauthorized", 3)
    assert refused["action"] in {"add", "reindex", "status"}


@pytest.mark.anyio
async def test_indexar_as_a_reply_then_estado_and_reindexar_during_and_after(admin, fake):
    runner, service, _ = admin
    reached, release = hold_at(runner, "staged")
    note = b"La palta Hass de La Libertad se exporta a Europa y China.\n"
    async with staff_bot(admin, fake):
        document = fake.send_document("palta-hass.txt", note, mime_type="text/plain")
        fake.send_text("/indexar Palta Hass", chat_id=STAFF, reply_to=document)  # caption forgot
        [started] = await fake.wait_sent(1, STAFF)
        assert await anyio_to_thread(reached.wait, 30)
        fake.send_text("/estado", chat_id=STAFF)
        fake.send_text("/reindexar", chat_id=STAFF)
        during = (await fake.wait_sent(3, STAFF))[1:]
        release.set()
        await fake.wait_sent(4, STAFF)  # the upload's result
        fake.send_text("/reindexar", chat_id=STAFF)
        await fake.wait_sent(6, STAFF)  # started, then its result
        fake.send_text("/estado", chat_id=STAFF)
        after = await fake.wait_sent(7, STAFF)

    [upload_job] = [j for j in runner.recent() if j.action == "add"]
    assert "palta-hass.txt" in plain(started) and upload_job.doc_ids == ["palta-hass"]
    assert "✅" in plain(after[3]) and upload_job.state == "succeeded"
    record = next(r for r in service.documents() if r.doc_id == "palta-hass")
    assert record.title == "Palta Hass"
    status, busy = sorted(during, key=lambda call: "Trabajo en curso" not in plain(call))
    assert "Trabajo en curso" in plain(status) and upload_job.id in plain(status)
    assert "Documentos que consulto (2)" in plain(status)
    assert "Ya hay un trabajo" in plain(busy) and upload_job.id in plain(busy)
    reindex_started, reindex_done, final_status = (plain(c) for c in after[4:7])
    [reindex_job] = [
        j for j in runner.recent() if (j.action, j.requested_by) == ("reindex", f"telegram:{STAFF}")
    ]
    assert "reindexar todo el corpus" in reindex_started and reindex_job.id in reindex_started
    assert "✅" in reindex_done and reindex_job.state == "succeeded"
    assert "No hay ningún trabajo en curso" in final_status and "✅" in final_status
    assert "Documentos que consulto (3)" in final_status  # palta-hass is listed now


@pytest.mark.anyio
async def test_bad_or_oversized_documents_are_explained(untouched, fake):
    runner, _, _ = untouched
    jobs_before = runner.recent()
    big = b"exportacion de cafe " * 60_000  # 1.1 MB; the limit is 1 MB here
    async with staff_bot(untouched, fake, max_upload_mb=1):
        fake.send_document("grafico.pdf", PNG, "/indexar")
        fake.send_document("grande.txt", big, "/indexar", mime_type="text/plain")
        fake.send_text("/indexar", chat_id=STAFF)
        replies = await fake.wait_sent(3, STAFF)

    png, big, how = (
        [plain(r) for r in replies if marker in plain(r)]
        for marker in ("«grafico.pdf»", "pesa", "envíamelo como archivo")
    )
    assert len(png) == len(big) == len(how) == 1
    assert "no es un PDF" in png[0] and "vuelve a enviarlo" in png[0]
    assert "1.1 MB" in big[0] and "hasta 1 MB" in big[0] and "/admin" in big[0]
    assert "leyenda /indexar" in how[0]
    assert len(fake.calls_to("getFile")) == 1  # the big one is refused before downloading
    assert runner.recent() == jobs_before
    assert [e["result"] for e in runner.audit.entries(2)] == ["rejected", "rejected"]


@pytest.mark.anyio
async def test_without_a_job_runner_staff_are_told_it_is_unavailable(untouched, fake):
    async with staff_bot(untouched, fake, with_jobs=False):
        fake.send_text("/estado", chat_id=STAFF)
        [reply] = await fake.wait_sent(1, STAFF)

    assert "no está disponible" in plain(reply)
