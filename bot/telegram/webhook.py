"""Webhook mode: a FastAPI router that feeds Telegram's POSTs to the Application.

Include it in any FastAPI app; the app's lifespan starts and stops the bot:

    app.include_router(webhook_router(build_application(service, settings), settings))
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.settings import Settings
from retrieval.errors import ConfigurationError

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1_000_000


def webhook_router(application: Application, settings: Settings) -> APIRouter:
    """POST `settings.telegram_webhook_path`; only requests carrying the webhook secret count."""
    secret = settings.telegram_webhook_secret.get_secret_value()
    if not secret:
        raise ConfigurationError("telegram.webhook_secret_missing")
    expected = secret.encode()

    lock = asyncio.Lock()

    async def ensure_started() -> bool:
        """Start the bot once; if Telegram is unreachable, the web app runs on and we retry."""
        async with lock:
            if application.running:
                return True
            try:
                await application.initialize()
                if application.post_init:
                    await application.post_init(application)
                if settings.telegram_webhook_url:
                    await application.bot.set_webhook(
                        settings.telegram_webhook_url,
                        secret_token=secret,
                        allowed_updates=Update.ALL_TYPES,
                    )
                    logger.info("Telegram webhook registered")
                await application.start()
            except TelegramError as exc:
                logger.error("Telegram bot not started (%s); will retry on the next update", exc)
                return False
            return True

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await ensure_started()
        try:
            yield
        finally:
            if application.running:
                await application.stop()
            await application.shutdown()

    router = APIRouter(lifespan=lifespan)

    @router.post(settings.telegram_webhook_path, include_in_schema=False)
    async def receive_update(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            logger.warning("Telegram webhook call refused: wrong or missing secret token")
            return Response(status_code=403)
        if not await ensure_started():
            return Response(status_code=503)  # Telegram delivers the update again later
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return Response(status_code=413)
        try:
            update = Update.de_json(_json(body), application.bot)
        except (ValueError, TypeError, KeyError):
            logger.warning("Telegram webhook call refused: not an Update")
            return Response(status_code=400)
        await application.update_queue.put(update)
        return Response(status_code=200)

    return router


def _json(body: bytes) -> dict:
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("an Update is a JSON object")
    return data
