"""Staff commands in Telegram: /indexar (a document sent with that caption), /reindexar, /estado.

Only the user ids in `telegram_staff_ids` may use them; everyone else gets a polite Spanish no,
and the refusal is audited. The work is the same JobRunner the web admin uses
(given to `build_application`): the upload is validated the same way, one job runs at a time,
and the bot reports the job's progress (an edited message) and its result (a new message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from html import escape

from telegram import Bot, Document, Message, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.admin.audit import UNAUTHORIZED
from bot.admin.jobs import Job, JobBusy, JobRunner
from bot.admin.uploads import Upload, UploadRejected
from bot.settings import Settings
from bot.telegram.chat import send_html
from bot.telegram.render import render_documents
from prompts import message
from retrieval.service import AnswerService

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
INDEX_CAPTION = r"^/indexar(@\w+)?(\s|$)"
TELEGRAM_DOWNLOAD_MB = 20  # getFile's limit on Telegram's cloud Bot API
POLL_SECONDS = 1.0  # how often a followed job is looked at
EDIT_SECONDS = 4.0  # progress edits at most this often (Telegram throttles edits)
SUFFIXES = {"application/pdf": ".pdf", "text/plain": ".txt", "text/markdown": ".md"}


class StaffCommands:
    """The staff's handlers, over the job runner (None: no administration in this process)."""

    def __init__(
        self, service: AnswerService, settings: Settings, jobs: JobRunner | None = None
    ) -> None:
        self.service = service
        self.jobs = jobs if settings.telegram_staff_ids else None
        self.staff_ids = settings.telegram_staff_ids
        self.max_upload_mb = settings.max_upload_mb
        self.poll_seconds = POLL_SECONDS
        self.edit_seconds = EDIT_SECONDS

    def register(self, application: Application) -> None:
        with_caption = filters.Document.ALL & filters.CaptionRegex(INDEX_CAPTION)
        application.add_handler(MessageHandler(with_caption, self.index_document))
        application.add_handler(CommandHandler("indexar", self.index_replied))
        application.add_handler(CommandHandler("reindexar", self.reindex))
        application.add_handler(CommandHandler("estado", self.status))

    # Handlers

    async def index_document(self, update: Update, context: Context) -> None:
        """A document sent with the caption /indexar [título]."""
        jobs = await self._staff_jobs(update, context, "add")
        if jobs is not None:
            msg = update.effective_message
            title = _caption_title(msg.caption or "")
            await self._index(update, context, jobs, msg.document, title)

    async def index_replied(self, update: Update, context: Context) -> None:
        """/indexar as a reply to a document (the caption was forgotten), or how to use it."""
        jobs = await self._staff_jobs(update, context, "add")
        if jobs is None:
            return
        msg = update.effective_message
        replied = msg.reply_to_message
        if replied is None or replied.document is None:
            await self._reply(context.bot, msg, message("staff.tg_send_document"))
            return
        title = " ".join(context.args or []) or None
        await self._index(update, context, jobs, replied.document, title)

    async def reindex(self, update: Update, context: Context) -> None:
        jobs = await self._staff_jobs(update, context, "reindex")
        if jobs is None:
            return
        try:
            job = await asyncio.to_thread(jobs.reindex, _actor(update))
        except JobBusy as exc:  # the runner audited it
            await self._reply(context.bot, update.effective_message, _busy(exc))
            return
        text = message("staff.tg_reindex_started", job_id=escape(job.id))
        await self._started(update, context, jobs, job, text)

    async def status(self, update: Update, context: Context) -> None:
        """The running job's progress (or the last job) and the indexed documents."""
        jobs = await self._staff_jobs(update, context, "status")
        if jobs is None:
            return
        running, recent = await asyncio.to_thread(lambda: (jobs.running(), jobs.recent(1)))
        if running is not None:
            head = message("staff.tg_status_running", progress=_progress(running))
        elif recent:
            last = recent[0]
            head = message("staff.tg_status_idle_last", result=_result(last))
        else:
            head = message("staff.tg_status_idle")
        documents = render_documents(await asyncio.to_thread(self.service.documents))
        await send_html(context.bot, update.effective_chat.id, f"{head}\n\n{documents}")

    # Steps

    async def _staff_jobs(self, update: Update, context: Context, action: str) -> JobRunner | None:
        """The jobs runner if the sender is staff and administration is on; else reply why not."""
        user = update.effective_user
        msg = update.effective_message
        if user is None or user.id not in self.staff_ids:
            await self._audit(context, update, action, UNAUTHORIZED, "no es del personal")
            await self._reply(context.bot, msg, message("staff.tg_not_staff"))
            return None
        jobs = self.jobs
        if jobs is None:
            await self._reply(context.bot, msg, message("staff.tg_unavailable"))
        return jobs

    async def _index(
        self,
        update: Update,
        context: Context,
        jobs: JobRunner,
        document: Document,
        title: str | None,
    ) -> None:
        """Download the document (within the limits), start the job and follow it."""
        msg = update.effective_message
        filename = document.file_name or "documento" + SUFFIXES.get(document.mime_type or "", "")
        limit_mb = min(self.max_upload_mb, TELEGRAM_DOWNLOAD_MB)
        if (document.file_size or 0) > limit_mb * 1024 * 1024:
            size_mb = f"{document.file_size / 1024 / 1024:.1f}"
            await self._audit(context, update, "add", "rejected", f"too_large: {size_mb} MB")
            text = message("staff.tg_too_large", size_mb=size_mb, limit_mb=limit_mb)
            await self._reply(context.bot, msg, text)
            return
        try:
            file = await context.bot.get_file(document.file_id)
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            logger.warning("Could not download a staff document: %s", exc)
            await self._reply(context.bot, msg, message("staff.tg_download_failed"))
            return
        upload = Upload(filename=filename, data=data, title=title)
        try:
            job = await asyncio.to_thread(jobs.add_documents, [upload], _actor(update))
        except UploadRejected as exc:  # the runner audited it
            await self._reply(
                context.bot, msg, message("staff.tg_rejected", detail=escape(str(exc)))
            )
            return
        except JobBusy as exc:
            await self._reply(context.bot, msg, _busy(exc))
            return
        text = message("staff.tg_started", filename=escape(filename), job_id=escape(job.id))
        await self._started(update, context, jobs, job, text)

    async def _started(
        self, update: Update, context: Context, jobs: JobRunner, job: Job, text: str
    ) -> None:
        """Say the job started, then follow it in the background until it finishes."""
        msg = update.effective_message
        quote = ReplyParameters(msg.message_id, allow_sending_without_reply=True)
        sent = await context.bot.send_message(
            msg.chat_id, text, parse_mode=ParseMode.HTML, reply_parameters=quote
        )
        follow = self._follow(context.application, context.bot, jobs, job.id, sent, msg)
        context.application.create_task(follow, update=update, name=f"follow-job-{job.id}")

    async def _follow(
        self,
        application: Application,
        bot: Bot,
        jobs: JobRunner,
        job_id: str,
        progress: Message,
        origin: Message,
    ) -> None:
        """Edit `progress` as the job advances; when it ends, reply to `origin` with the result."""
        shown, edited_at = "", time.monotonic()
        while application.running:
            await asyncio.sleep(self.poll_seconds)
            job = await asyncio.to_thread(jobs.job, job_id)
            if job is None:
                return
            if job.finished:
                await self._reply(bot, origin, _result(job))
                return
            text = message("staff.tg_progress", progress=_progress(job))
            if text != shown and time.monotonic() - edited_at >= self.edit_seconds:
                with contextlib.suppress(BadRequest):  # e.g. the message was deleted
                    await progress.edit_text(text, parse_mode=ParseMode.HTML)
                shown, edited_at = text, time.monotonic()

    async def _reply(self, bot: Bot, msg: Message, text: str) -> None:
        await send_html(bot, msg.chat_id, text, reply_to=msg.message_id)

    async def _audit(
        self, context: Context, update: Update, action: str, result: str, detail: str
    ) -> None:
        audit = self.jobs.audit if self.jobs is not None else None
        if audit is None:
            logger.warning("No audit log: %s %s by %s", action, result, _actor(update))
            return
        await asyncio.to_thread(audit.record, _actor(update), action, "telegram", result, detail)


def _actor(update: Update) -> str:
    user = update.effective_user
    return f"telegram:{user.id if user else 'desconocido'}"


def _caption_title(caption: str) -> str | None:
    """`/indexar Plan Regional Exportador de Tacna` -> the title after the command."""
    _, _, rest = caption.partition(" ")
    return " ".join(rest.split()) or None


def _busy(exc: JobBusy) -> str:
    return message("staff.tg_busy", job_id=escape(exc.job_id))


def _progress(job: Job) -> str:
    """'Reindexar · trabajo X: 12 de 40 fragmentos (30 %) · 2,1 fragmentos/s · quedan ~14 s
    (ahora: documento)' in Telegram HTML."""
    current = message("staff.tg_current", doc=escape(job.current)) if job.current else ""
    return message(
        "staff.tg_progress_line",
        action=message(f"staff.page_action_{job.action}"),
        job_id=escape(job.id),
        progress=escape(job.progress()),
        current=current,
    )


def _result(job: Job) -> str:
    key = "staff.tg_done" if job.state == "succeeded" else "staff.tg_not_done"
    lines = [
        message(
            key,
            action=message(f"staff.page_action_{job.action}"),
            job_id=escape(job.id),
            state=message(f"staff.page_state_{job.state}"),
            summary=escape(job.summary or ""),
        )
    ]
    for file, reason in job.errors:
        lines.append(message("staff.tg_error_line", file=escape(file), reason=escape(reason)))
    return "\n".join(lines)
