"""Talking in a chat: HTML split over as many messages as needed, and who a group message is for."""

from __future__ import annotations

import re

from telegram import (
    Bot,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
)
from telegram.constants import ParseMode

from bot.telegram.render import split_html

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def send_html(
    bot: Bot,
    chat_id: int,
    html: str,
    *,
    keyboard: InlineKeyboardMarkup | None = None,
    reply_to: int | None = None,
    thread: int | None = None,
) -> Message:
    """Send HTML, split into as many messages as needed; the keyboard goes under the last one.
    The first message sent."""
    chunks = split_html(html)
    quote = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    first = None
    for i, chunk in enumerate(chunks):
        sent = await bot.send_message(
            chat_id,
            chunk,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=keyboard if i == len(chunks) - 1 else None,
            reply_parameters=quote if i == 0 else None,
            message_thread_id=thread,
        )
        first = first or sent
    return first


def addressed_question(msg: Message, bot: Bot) -> str | None:
    """The question in a group message meant for the bot (mention or reply to it), else None.

    Only the sender's own text is used: never the message they replied to, which may be another
    member's.
    """
    mention = f"@{bot.username}".lower()
    entities = msg.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    mentioned = any(
        text.lower() == mention or (e.user is not None and e.user.id == bot.id)
        for e, text in entities.items()
    )
    reply = msg.reply_to_message
    replied = reply is not None and reply.from_user is not None and reply.from_user.id == bot.id
    if not (mentioned or replied):
        return None
    return re.sub(re.escape(mention), " ", msg.text or "", flags=re.IGNORECASE).strip()


def thread_of(msg: object) -> int | None:
    """The forum topic to answer in, if the message is in one."""
    if getattr(msg, "is_topic_message", False):
        return msg.message_thread_id
    return None
