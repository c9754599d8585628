"""Telegram updates in, `AnswerService` answers out: commands, questions, buttons and errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from concurrent.futures import Future
from html import escape

from telegram import Bot, BotCommand, Chat, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.settings import Settings
from bot.state import SentAnswer, SharedAnswers, SharedConversations
from bot.streaming import streamed
from bot.telegram.chat import NO_PREVIEW, addressed_question, send_html, thread_of
from bot.telegram.feedback import Feedback, FeedbackRecorder
from bot.telegram.ratelimit import UserRateLimiter
from bot.telegram.render import (
    ASK,
    MAX_MESSAGE_LENGTH,
    SOURCES,
    VOTE,
    answer_keyboard,
    examples_keyboard,
    render_answer,
    render_documents,
    render_passages,
    split_html,
    tg_len,
)
from bot.usage import UsageLog
from prompts import message
from retrieval.contract import Answer, Turn
from retrieval.errors import ExportaError, IndexMissing, InvalidQuestion
from retrieval.service import HISTORY_TURNS, AnswerService

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
TYPING_REFRESH_SECONDS = 4.5  # Telegram shows "typing…" for about 5 seconds
EDIT_EVERY_SECONDS = 1.2  # a drafted answer's edits: Telegram allows about one a second a chat
QUESTION_ID_WAIT_SECONDS = 1.0  # a vote waits this long for its question's row, then goes alone
GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)


class ExportaBot:
    """The Telegram channel: per-chat state, and one handler per kind of update."""

    def __init__(
        self,
        service: AnswerService,
        settings: Settings,
        feedback: FeedbackRecorder | None,
        clock=time.time,
        usage: UsageLog | None = None,
    ) -> None:
        self.service = service
        self.feedback = feedback  # None: votes are thanked but not kept
        self.usage = usage  # None: questions are not logged
        self.conversations = SharedConversations(
            settings, HISTORY_TURNS, settings.telegram_history_ttl_seconds, clock=clock
        )
        self.limiter = UserRateLimiter(settings, settings.telegram_rate_limit_per_minute, clock)
        self.answers = SharedAnswers(settings, clock)
        self.examples = message("telegram.examples").splitlines()
        self.history_minutes = settings.telegram_history_ttl_seconds // 60

    def register(self, application: Application) -> None:
        application.add_handler(CommandHandler("start", self.start))
        application.add_handler(CommandHandler(["ayuda", "help"], self.help))
        application.add_handler(CommandHandler("fuentes", self.documents))
        application.add_handler(CommandHandler("nueva", self.new_conversation))
        questions = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE
        application.add_handler(MessageHandler(questions, self.on_text))
        for callback, pattern in [
            (self.on_example, rf"^{ASK}:\d+$"),
            (self.on_passages, rf"^{SOURCES}:"),
            (self.on_vote, rf"^{VOTE}:[\w-]+:[01]$"),
            (self.on_stale_button, None),  # buttons of an older version of the bot
        ]:
            application.add_handler(CallbackQueryHandler(callback, pattern=pattern))
        application.add_error_handler(self.on_error)

    async def announce_commands(self, application: Application) -> None:
        """The command menu Telegram shows next to the text box."""
        commands = [
            BotCommand("start", message("telegram.command_start")),
            BotCommand("ayuda", message("telegram.command_help")),
            BotCommand("fuentes", message("telegram.command_sources")),
            BotCommand("nueva", message("telegram.command_new")),
        ]
        try:
            await application.bot.set_my_commands(commands)
        except TelegramError as exc:
            logger.warning("Could not set the bot's command menu: %s", exc)

    # Commands

    async def start(self, update: Update, context: Context) -> None:
        count = len(self.service.documents())
        await send_html(
            context.bot,
            update.effective_chat.id,
            message("telegram.welcome", count=count),
            keyboard=examples_keyboard(self.examples),
        )

    async def help(self, update: Update, context: Context) -> None:
        text = message(
            "telegram.help",
            minutes=self.history_minutes,
            username=escape(context.bot.username or ""),
        )
        await send_html(context.bot, update.effective_chat.id, text)

    async def documents(self, update: Update, context: Context) -> None:
        records = self.service.documents()
        await send_html(context.bot, update.effective_chat.id, render_documents(records))

    async def new_conversation(self, update: Update, context: Context) -> None:
        chat_id = update.effective_chat.id
        await asyncio.to_thread(self.conversations.forget, chat_id)
        await send_html(context.bot, chat_id, message("telegram.new_conversation"))

    # Questions

    async def on_text(self, update: Update, context: Context) -> None:
        msg, chat = update.effective_message, update.effective_chat
        if chat.type in GROUPS:
            question = addressed_question(msg, context.bot)
            if question is None:
                return  # group talk not meant for the bot: not read, not answered
            reply_to = msg.message_id
        else:
            question, reply_to = msg.text, None
        user = update.effective_user
        await self._ask(context.bot, chat, user.id if user else chat.id, question, reply_to, msg)

    async def on_example(self, update: Update, context: Context) -> None:
        query = update.callback_query
        await query.answer()
        index = int(query.data.split(":")[1])
        if index < len(self.examples):
            question = self.examples[index]
            chat, user_id = update.effective_chat, query.from_user.id
            await self._ask(context.bot, chat, user_id, question, None, query.message)

    async def _ask(
        self,
        bot: Bot,
        chat: Chat,
        user_id: int,
        question: str,
        reply_to: int | None,
        origin: object,
    ) -> None:
        limit = self.limiter.per_minute
        decision = await asyncio.to_thread(self.limiter.check, user_id)  # a database row
        if not decision.allowed:
            logger.info("Question refused by the per-user rate limit (%d per minute)", limit)
            if decision.notify:
                text = message("telegram.rate_limited", limit=limit, seconds=decision.retry_in)
                await send_html(bot, chat.id, text, reply_to=reply_to, thread=thread_of(origin))
            return
        history = await asyncio.to_thread(self.conversations.history, chat.id)
        started = time.perf_counter()
        thread = thread_of(origin)
        draft = Draft(bot, chat.id, reply_to, thread)
        try:
            if self.service.writes:  # a model writes: show its text as it does
                answer = await self._answer_drafting(draft, question, history)
            else:
                answer = await self._answer_typing(bot, chat.id, question, history)
        except Exception as exc:
            self._record(user_id, question, None, started, error=type(exc).__name__)
            raise
        recorded = self._record(user_id, question, answer, started)
        logger.info(
            "Answered in a %s chat (abstained=%s, %d sources, %.0f ms)",
            chat.type, answer.abstained, len(answer.sources), answer.timings_ms.get("total", 0),
        )  # fmt: skip
        turn = Turn(question=answer.question, answer=answer.answer)
        await asyncio.to_thread(self.conversations.remember, chat.id, turn)
        answer_id = await asyncio.to_thread(self.answers.add, answer, chat.id, recorded)
        await draft.finish(render_answer(answer), answer_keyboard(answer_id))

    def _record(
        self,
        user_id: int,
        question: str,
        answer: Answer | None,
        started: float,
        error: str | None = None,
    ) -> Future[int | None] | None:
        """Queue the question for the usage log; the future gives its id to the vote buttons."""
        if self.usage is None:
            return None
        return self.usage.submit_question(
            channel="telegram",
            user_id=user_id,
            question=question,
            answer=answer,
            latency_ms=(time.perf_counter() - started) * 1000,
            error=error,
        )

    async def _answer_drafting(self, draft: Draft, question: str, history: list[Turn]) -> Answer:
        """The service's answer, its text shown in one message edited as the model writes."""
        with contextlib.suppress(TelegramError):
            await draft.bot.send_chat_action(draft.chat_id, ChatAction.TYPING)
        answer = None
        async for event in streamed(lambda: self.service.answer_events(question, history)):
            if event.kind == "token":
                await draft.add(event.data)
            elif event.kind == "done":
                answer = event.data
        return answer

    async def _answer_typing(
        self, bot: Bot, chat_id: int, question: str, history: list[Turn]
    ) -> Answer:
        """The service's answer, computed off the event loop while the chat shows "typing…"."""

        async def typing() -> None:
            with contextlib.suppress(TelegramError):  # cosmetic: never worth failing the answer
                await bot.send_chat_action(chat_id, ChatAction.TYPING)

        async def keep_typing() -> None:
            while True:
                await asyncio.sleep(TYPING_REFRESH_SECONDS)
                await typing()

        await typing()
        refresh = asyncio.create_task(keep_typing())
        try:
            return await asyncio.to_thread(self.service.answer, question, history)
        finally:
            refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresh

    # Buttons under an answer

    async def on_passages(self, update: Update, context: Context) -> None:
        query = update.callback_query
        sent = await asyncio.to_thread(self.answers.get, query.data.split(":")[1])
        if sent is None:
            await query.answer(message("telegram.answer_expired"))
            return
        await query.answer()
        origin = query.message
        reply_to = origin.message_id if origin else None
        text = render_passages(sent.answer)
        await send_html(
            context.bot, sent.chat_id, text, reply_to=reply_to, thread=thread_of(origin)
        )

    async def on_vote(self, update: Update, context: Context) -> None:
        query = update.callback_query
        _, answer_id, vote = query.data.split(":")
        sent = await asyncio.to_thread(self.answers.get, answer_id)
        if sent is None:
            await query.answer(message("telegram.answer_expired"))
            return
        if not await asyncio.to_thread(self.answers.vote, answer_id, query.from_user.id):
            await query.answer(message("telegram.feedback_repeated"))
            return
        if self.feedback is not None:
            chat_type = update.effective_chat.type if update.effective_chat else ""
            feedback = Feedback.about(
                sent.answer,
                vote == "1",
                chat_type,
                voter=query.from_user.id,
                question_id=await question_id(sent),
            )
            self.feedback.record(feedback)
        await query.answer(message("telegram.feedback_thanks"))

    async def on_stale_button(self, update: Update, context: Context) -> None:
        await update.callback_query.answer(message("telegram.answer_expired"))

    # Errors

    async def on_error(self, update: object, context: Context) -> None:
        """The one error handler: log with the update, tell the user in Spanish, no internals."""
        error = context.error
        if isinstance(error, ExportaError):
            level = logging.INFO if isinstance(error, InvalidQuestion) else logging.WARNING
            logger.log(level, "Could not answer: %s", error)
            text = user_message(error)
        else:
            logger.error("Error while handling update %s", describe(update), exc_info=error)
            text = message("telegram.error_generic")
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        if update.callback_query:
            with contextlib.suppress(TelegramError):
                await update.callback_query.answer()
        try:
            await send_html(context.bot, update.effective_chat.id, text)
        except TelegramError as exc:
            logger.warning("Could not tell the chat about the error: %s", exc)


class Draft:
    """The message an answer is written into: sent with the first text, edited at most every
    EDIT_EVERY_SECONDS while more arrives, and finished with the citations and buttons. An answer
    that was not drafted is sent whole by `finish`."""

    def __init__(self, bot: Bot, chat_id: int, reply_to: int | None, thread: int | None) -> None:
        self.bot, self.chat_id, self.reply_to, self.thread = bot, chat_id, reply_to, thread
        self.text = ""
        self.message_id: int | None = None
        self._edited_at = 0.0

    async def add(self, piece: str) -> None:
        self.text += piece
        html = escape(self.text.strip()) + " …"
        now = time.monotonic()
        if tg_len(html) > MAX_MESSAGE_LENGTH or not self.text.strip():
            return  # the rest is shown by `finish`, split over messages
        if self.message_id is None:
            first = await send_html(self.bot, self.chat_id, html, reply_to=self.reply_to,
                                    thread=self.thread)  # fmt: skip
            self.message_id, self._edited_at = first.message_id, now
        elif now - self._edited_at >= EDIT_EVERY_SECONDS:
            self._edited_at = now
            with contextlib.suppress(TelegramError):  # a draft edit is worth no failure
                await self.bot.edit_message_text(
                    html, self.chat_id, self.message_id, parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                )  # fmt: skip

    async def finish(self, html: str, keyboard: InlineKeyboardMarkup) -> None:
        """The answer as it stays: the draft edited into its first part, the rest sent."""
        if self.message_id is None:
            await send_html(self.bot, self.chat_id, html, keyboard=keyboard,
                            reply_to=self.reply_to, thread=self.thread)  # fmt: skip
            return
        first, *rest = split_html(html)
        await self.bot.edit_message_text(
            first, self.chat_id, self.message_id, parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW, reply_markup=None if rest else keyboard,
        )  # fmt: skip
        if rest:
            await send_html(self.bot, self.chat_id, "\n\n".join(rest), keyboard=keyboard,
                            thread=self.thread)  # fmt: skip


async def question_id(sent: SentAnswer) -> int | None:
    """The usage log's id of the answered question (written by now, unless the database lags)."""
    if sent.question_id is not None or sent.recorded is None:
        return sent.question_id
    if not sent.recorded.done():
        await asyncio.wait([asyncio.wrap_future(sent.recorded)], timeout=QUESTION_ID_WAIT_SECONDS)
    return sent.recorded.result() if sent.recorded.done() else None


def user_message(error: ExportaError) -> str:
    """What a Telegram user is told: the question's problem, never paths or server details."""
    if isinstance(error, InvalidQuestion):
        return escape(str(error))
    if isinstance(error, IndexMissing):
        return message("telegram.index_missing")
    return message("telegram.service_unavailable")


def describe(update: object) -> str:
    if isinstance(update, Update):
        return json.dumps(update.to_dict(), ensure_ascii=False)
    return repr(update)
