"""The composition root of the long-running channels: settings -> store -> service -> web app,
Telegram bot, staff job runner and usage log. The CLI (`bot/cli.py`) calls these."""

from __future__ import annotations

import sys

from bot.settings import Settings, load_settings
from prompts import message


def open_store(settings: Settings):
    """The configured chunk store (embedded Chroma, or the `chroma run` server)."""
    from retrieval.store import ChunkStore

    return ChunkStore.open(settings)


def index_service(settings: Settings, embedder_factory=None):
    """The one way to change the index: its store, and vectors bundled, cached or embedded by
    `embedder_factory` (default: the configured model), called only when a text none of them
    knows comes."""
    from ingest import IndexService
    from retrieval.embeddings import build_embedder
    from retrieval.vector_cache import LOCAL_VECTORS_FILE, VECTORS_FILE, VectorCache

    vectors = VectorCache(
        settings.embedding_model,
        embedder_factory or (lambda: build_embedder(settings)),
        local=settings.data_dir / LOCAL_VECTORS_FILE,
        bundled=[settings.corpus_dir / VECTORS_FILE],
    )
    return IndexService(open_store(settings), vectors, settings.ocr)


def job_runner(settings: Settings, on_commit=None):
    """The staff job runner; jobs a dead process left are finished or rolled back first."""
    from bot.admin.jobs import JobRunner

    runner = JobRunner(settings, index_service(settings), on_commit=on_commit)
    for job in runner.recover():
        print(f"Aviso: {job.summary} ({job.id})", file=sys.stderr, flush=True)
    return runner


def web_app(settings: Settings | None = None):
    """The web app over the configured index (also uvicorn's factory for `--workers N`)."""
    from bot.web import create_app
    from bot.web.context import LiveService
    from retrieval.errors import IndexMissing
    from retrieval.service import AnswerService

    settings = settings or load_settings()
    try:
        service = AnswerService.from_settings(settings, warm=True)
    except IndexMissing as exc:  # serve anyway: the page and /readyz say what to do
        print(f"Aviso: {exc}", file=sys.stderr, flush=True)
        service = None
    # After a staff job commits: the service reloads, or opens if the index was empty.
    live = LiveService(
        service, open_service=lambda: AnswerService.from_settings(settings, warm=True)
    )
    usage = open_usage_log(settings)
    jobs = None
    if settings.admin_token.get_secret_value() or settings.telegram_staff_ids:
        jobs = job_runner(settings, on_commit=live.refresh)
    routers = telegram_routers(service, settings, usage, jobs) if service is not None else []
    admin = jobs if settings.admin_token.get_secret_value() else None
    return create_app(live, settings, admin=admin, usage=usage, routers=routers)


def telegram_routers(service, settings: Settings, usage, jobs=None) -> list:
    """With a bot token configured, the web app also runs the Telegram bot: its router.

    Webhook mode when a webhook secret is set (Telegram POSTs to the app), long polling otherwise
    (only with one worker: two pollers would steal each other's updates).
    """
    token = settings.telegram_token.get_secret_value()
    if not token:
        return []
    from bot.telegram import build_application, webhook_router
    from bot.telegram.polling import polling_router
    from bot.telegram.redaction import redact_secrets_in_logs

    secret = settings.telegram_webhook_secret.get_secret_value()
    redact_secrets_in_logs(token, secret)
    application = build_application(service, settings, usage=usage, jobs=jobs)
    if secret:
        return [webhook_router(application, settings)]
    if settings.workers == 1:
        return [polling_router(application)]
    print(message("telegram.polling_needs_one_worker"), file=sys.stderr, flush=True)
    return []


def open_usage_log(settings: Settings):
    """The usage log of serve and telegram, old rows purged now (then hourly, as questions come)."""
    from bot.usage import UsageLog

    usage = UsageLog(settings)
    usage.purge_if_due()
    return usage
