"""Long polling inside the web app's lifespan, so one `exporta serve` also runs the bot."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

logger = logging.getLogger(__name__)


def polling_router(application: Application) -> APIRouter:
    """A route-less router whose lifespan starts polling with the app and stops it after."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        started = False
        try:
            await application.initialize()
            if application.post_init:
                await application.post_init(application)
            await application.start()
            await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
            started = True
            logger.info("Telegram bot polling")
        except TelegramError as exc:  # the web keeps answering even if Telegram is unreachable
            logger.error("Telegram bot not started: %s", exc)
        try:
            yield
        finally:
            if started:
                await application.updater.stop()
                await application.stop()
                await application.shutdown()

    return APIRouter(lifespan=lifespan)
