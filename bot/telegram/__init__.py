"""The Telegram channel: exporters ask in a chat, `AnswerService` answers with cited sources."""

from bot.telegram.application import build_application
from bot.telegram.webhook import webhook_router

__all__ = ["build_application", "webhook_router"]
