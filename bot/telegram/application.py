"""`build_application(service, settings)`: the Telegram channel as a PTB Application."""

from __future__ import annotations

from telegram.ext import Application

from bot.admin.jobs import JobRunner
from bot.settings import Settings
from bot.telegram.feedback import FeedbackRecorder, UsageFeedback
from bot.telegram.handlers import ExportaBot
from bot.telegram.ratelimit import TelegramLimiter
from bot.telegram.staff import StaffCommands
from bot.usage import UsageLog
from retrieval.errors import ConfigurationError
from retrieval.service import AnswerService


def build_application(
    service: AnswerService,
    settings: Settings,
    *,
    feedback: FeedbackRecorder | None = None,
    usage: UsageLog | None = None,
    jobs: JobRunner | None = None,
) -> Application:
    """An Application answering from `service`; start it with polling or `webhook_router`.

    With a usage log, questions and votes are recorded there (votes unless `feedback` is given);
    with the staff job runner (and staff ids in settings), staff can index from the chat.
    """
    token = settings.telegram_token.get_secret_value()
    if not token:
        raise ConfigurationError("telegram.token_missing")
    if feedback is None and usage is not None:
        feedback = UsageFeedback(usage)
    exporta = ExportaBot(service, settings, feedback, usage=usage)
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
    staff = StaffCommands(service, settings, jobs)
    staff.register(application)
    application.bot_data["exporta"] = exporta
    application.bot_data["staff"] = staff
    application.bot_data["usage"] = usage
    return application
