"""The web channel: a JSON API, a Spanish chat page and a passage view over `AnswerService`."""

from bot.web.app import create_app

__all__ = ["create_app"]
