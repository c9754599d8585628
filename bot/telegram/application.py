"""`build_application(service, settings)`: the Telegram channel as a PTB Application."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.feedback import FeedbackRecorder, JsonlFeedback
from bot.telegram.handlers import ExportaBot
from bot.telegram.ratelimit import TelegramLimiter
from retrieval.errors import ConfigurationError
from retrieval.service import AnswerService
from retrieval.settings import Settings

FEEDBACK_FILE = "telegram-feedback.jsonl"


def build_application(
    service: AnswerService,
    settings: Settings,
    *,
    feedback: FeedbackRecorder | None = None,
) -> Application:
    """An Application answering from `service`; start it with polling or `webhook_router`."""
    token = settings.telegram_token.get_secret_value()
    if not token:
        raise ConfigurationError("telegram.token_missing")
    exporta = ExportaBot(service, settings, feedback or default_feedback(settings))
    builder = (
        Application.builder()
        .token(token)
        .rate_limiter(TelegramLimiter())
        .post_init(exporta.announce_commands)
    )
    if settings.telegram_base_url:  # a self-hosted Bot API server (or the tests' fake one)
        builder = builder.base_url(settings.telegram_base_url)
        if settings.telegram_base_url.endswith("/bot"):
            builder = builder.base_file_url(settings.telegram_base_url[: -len("bot")] + "file/bot")
    application = builder.build()
    exporta.register(application)
    application.bot_data["exporta"] = exporta
    return application


def default_feedback(settings: Settings) -> FeedbackRecorder:
    return JsonlFeedback(settings.telegram_feedback_file or settings.data_dir / FEEDBACK_FILE)
