"""A small fake Telegram Bot API server on 127.0.0.1, for driving the real python-telegram-bot.

It speaks what PTB sends (POST <base_url><token>/<method>, form-encoded parameters whose values are
JSON-encoded), hands out updates through long-polling getUpdates, records every call, and rejects
what Telegram rejects with Telegram's error JSON: messages over 4096 characters, HTML it cannot
parse, callback data over 64 bytes. On demand it answers 429 with retry_after, or drops the
connection, to exercise the bot's retries. Users can send documents: the bot gets them as Telegram
does, through getFile and a download from <host>/file/bot<token>/<file_path> (over 20 MB, getFile
answers "file is too big", as the cloud Bot API does).
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

TOKEN = "123456:FAKE-test-token_abcdefghijklmnopqrstuvw"
BOT_USER = {
    "id": 700_000_001,
    "is_bot": True,
    "first_name": "Exporta",
    "username": "exporta_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile's limit on the cloud Bot API
# Parameters PTB sends as raw strings; every other value is JSON.
_STRING_PARAMS = {
    "text", "parse_mode", "callback_query_id", "action", "url", "secret_token", "file_id",
}  # fmt: skip
_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
    "tg-spoiler", "tg-emoji", "blockquote",
}  # fmt: skip
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)((?:\s[^<>]*)?)>")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_COMMAND = re.compile(r"^/\w+(?:@\w+)?")
_MENTION = re.compile(r"@\w{3,}")


class TelegramRejects(Exception):
    def __init__(self, description: str, code: int = 400) -> None:
        super().__init__(description)
        self.description, self.code = description, code


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """The plain text Telegram would show for `text` in HTML parse mode, or TelegramRejects."""
    stack: list[str] = []
    out: list[str] = []
    pos = 0
    for match in _TAG.finditer(text):
        out.append(_plain(text[pos : match.start()], pos))
        closing, name = match.group(1), match.group(2).lower()
        offset = len(text[: match.start()].encode())
        if name not in _TAGS:
            raise TelegramRejects(
                f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" '
                f"at byte offset {offset}"
            )
        if closing:
            if not stack or stack[-1] != name:
                expected = f"</{stack[-1]}>" if stack else "nothing"
                raise TelegramRejects(
                    "Bad Request: can't parse entities: Unmatched end tag at byte offset "
                    f'{offset}, expected "{expected}", found "</{name}>"'
                )
            stack.pop()
        else:
            stack.append(name)
        pos = match.end()
    out.append(_plain(text[pos:], pos))
    if stack:
        raise TelegramRejects(
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1]}"'
        )
    return "".join(out)


def _plain(segment: str, start: int) -> str:
    for i, char in enumerate(segment):
        if char in "<>" or (char == "&" and not _ENTITY.match(segment, i)):
            raise TelegramRejects(
                "Bad Request: can't parse entities: Unexpected character "
                f"{char!r} at byte offset {start + i}"
            )
    return html.unescape(segment)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200
    result: Any = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Fault:
    kind: str  # "retry_after", "disconnect" or "unauthorized"
    retry_after: int = 1


class FakeTelegram:
    """Start with `with FakeTelegram() as fake:`; point PTB at `fake.base_url`."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.bot = dict(BOT_USER)
        self.folder = Path(tempfile.mkdtemp(prefix="fake-telegram-"))  # for what a test keeps
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id = 1
        self._chats: dict[int, dict[str, Any]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    # Life cycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    def __enter__(self) -> FakeTelegram:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # Driving the bot

    def user(self, user_id: int = 501, first_name: str = "Rosa") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "es"}

    def chat(self, chat_id: int, kind: str = "private", title: str = "Exportadores") -> dict:
        chat = {"id": chat_id, "type": kind}
        chat.update({"title": title} if kind != "private" else {"first_name": "Rosa"})
        self._chats[chat_id] = chat
        return chat

    def message(
        self,
        text: str,
        chat_id: int = 501,
        user: dict[str, Any] | None = None,
        kind: str = "private",
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A user's Message, with the command and mention entities Telegram would add."""
        user = user or self.user(chat_id if kind == "private" else 501)
        chat = self._chats.get(chat_id) or self.chat(chat_id, kind)
        msg = self._new_message(chat, user, text)
        entities = _entities(text)
        if entities:
            msg["entities"] = entities
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        return msg

    def send_text(self, text: str, chat_id: int = 501, **kwargs: Any) -> dict[str, Any]:
        """A user's message, delivered to the bot through getUpdates; returns the Message."""
        msg = self.message(text, chat_id, **kwargs)
        self.push_update({"message": msg})
        return msg

    def send_document(
        self,
        filename: str | None,
        data: bytes,
        caption: str | None = None,
        chat_id: int = 501,
        user: dict[str, Any] | None = None,
        mime_type: str = "application/pdf",
    ) -> dict[str, Any]:
        """A user sends a file (with an optional caption) to the bot; returns the Message."""
        user = user or self.user(chat_id)
        chat = self._chats.get(chat_id) or self.chat(chat_id)
        with self._lock:
            number = len(self._files) + 1
            file_id = f"BQACAgEAAx{number:04d}"
            suffix = filename.rsplit(".", 1)[-1] if filename and "." in filename else "bin"
            self._files[file_id] = (f"documents/file_{number}.{suffix}", data)
        document = {
            "file_id": file_id,
            "file_unique_id": f"AgAD{number:04d}",
            "mime_type": mime_type,
            "file_size": len(data),
        }
        if filename is not None:
            document["file_name"] = filename
        msg = self._new_message(chat, user, None)
        msg["document"] = document
        if caption:
            msg["caption"] = caption
            if entities := _entities(caption):
                msg["caption_entities"] = entities
        self.push_update({"message": msg})
        return msg

    def press(self, bot_message: dict[str, Any], data: str, user: dict | None = None) -> str:
        """A user taps an inline button under one of the bot's messages; returns the query id."""
        query_id = f"q{self._next_update_id}"
        chat = bot_message["chat"]
        user = user or self.user(chat["id"] if chat["type"] == "private" else 501)
        query = {
            "id": query_id,
            "from": user,
            "chat_instance": f"ci{chat['id']}",
            "message": bot_message,
            "data": data,
        }
        self.push_update({"callback_query": query})
        return query_id

    def push_update(self, content: dict[str, Any]) -> int:
        with self._lock:
            update_id = self._next_update_id
            self._next_update_id += 1
            self._updates.append({"update_id": update_id, **content})
            self._lock.notify_all()
        return update_id

    def fail_next(self, method: str, kind: str = "retry_after", retry_after: int = 1) -> None:
        """Make the next call to `method` fail: "retry_after" (429), "disconnect" (the connection
        drops without a response) or "unauthorized" (401, as for a revoked token)."""
        with self._lock:
            self._faults.setdefault(method, deque()).append(_Fault(kind, retry_after))

    # Inspecting what the bot did

    def calls_to(self, method: str, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [
                c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)
            ]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Accepted sendMessage calls (to one chat), in order."""
        return [
            c
            for c in self.calls_to("sendMessage")
            if chat_id is None or c.params["chat_id"] == chat_id
        ]

    def shown(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The bot's messages (to one chat) as they read now, edits applied, in order sent."""
        ids = [(c.params["chat_id"], c.result["message_id"]) for c in self.sent(chat_id)]
        with self._lock:
            return [self._messages[key] for key in ids]

    async def wait_sent(self, count: int, chat_id: int | None = None, timeout: float = 8.0) -> list:
        """Wait until the bot has sent `count` messages (to `chat_id`); return them all."""
        await self.wait_for(lambda: len(self.sent(chat_id)) >= count, timeout)
        return self.sent(chat_id)

    async def wait_for(self, condition, timeout: float = 8.0) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; calls so far: {[c.method for c in self.calls]}")
            await asyncio.sleep(0.01)
        return True

    # Serving

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                fake._serve(self)

            def do_GET(self) -> None:  # noqa: N802
                fake._serve(self)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        if request.path.startswith("/file/bot"):
            return self._download(request)
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", request.path.split("?")[0])
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        if not match or match.group(1) != self.token:
            return _reply(
                request, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
        method = match.group(2)
        params = _decode(body, request.headers.get("Content-Type", ""))
        with self._lock:
            faults = self._faults.get(method)
            fault = faults.popleft() if faults else None
        if fault and fault.kind == "disconnect":
            self._record(Call(method, params, status=0))
            request.close_connection = True
            return None
        if fault and fault.kind == "unauthorized":
            self._record(Call(method, params, status=401))
            return _reply(
                request, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
        if fault:
            error = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {fault.retry_after}",
                "parameters": {"retry_after": fault.retry_after},
            }
            self._record(Call(method, params, status=429))
            return _reply(request, 429, error)
        try:
            result = self._dispatch(method, params)
        except TelegramRejects as exc:
            self._record(Call(method, params, status=exc.code, result=exc.description))
            error = {"ok": False, "error_code": exc.code, "description": exc.description}
            return _reply(request, exc.code, error)
        if method != "getUpdates" or result:
            self._record(Call(method, params, result=result))
        return _reply(request, 200, {"ok": True, "result": result})

    def _download(self, request: BaseHTTPRequestHandler) -> None:
        """GET /file/bot<token>/<file_path>: the file's bytes, as Telegram's file server does."""
        prefix = f"/file/bot{self.token}/"
        path = unquote(request.path.split("?")[0])  # clients escape the token's ":"
        with self._lock:
            files = {file_path: data for file_path, data in self._files.values()}
        data = files.get(path[len(prefix) :]) if path.startswith(prefix) else None
        self._record(Call("download", {"path": path}, status=200 if data is not None else 404))
        if data is None:
            return _reply(
                request, 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            )
        request.send_response(200)
        request.send_header("Content-Type", "application/octet-stream")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
        return None

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id") or "")
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise TelegramRejects("Bad Request: invalid file_id")
        file_path, data = stored
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise TelegramRejects("Bad Request: file is too big")
        unique = "AgAD" + file_id[-4:]
        return {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_size": len(data),
            "file_path": file_path,
        }

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self.bot
        if method == "getUpdates":
            return self._get_updates(params)
        if method in ("deleteWebhook", "setMyCommands", "sendChatAction"):
            return True
        if method == "setWebhook":
            self.webhook = params
            return True
        if method == "sendMessage":
            return self._send_message(params)
        if method == "editMessageText":
            return self._edit_message(params)
        if method == "getFile":
            return self._get_file(params)
        if method == "answerCallbackQuery":
            if len(params.get("text") or "") > MAX_CALLBACK_ANSWER:
                raise TelegramRejects("Bad Request: MESSAGE_TOO_LONG")
            return True
        raise TelegramRejects("Not Found: method not found", code=404)

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._lock:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())
            return list(self._updates[: int(params.get("limit") or 100)])

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        text = _checked_text(params)
        _check_keyboard(params.get("reply_markup"))
        with self._lock:
            chat = self._chats.get(chat_id) or self.chat(chat_id)
            msg = self._new_message(chat, self.bot, text)
        if params.get("reply_markup"):
            msg["reply_markup"] = params["reply_markup"]
        if params.get("reply_parameters"):
            reply = params["reply_parameters"]
            msg["reply_to_message"] = self._messages.get((chat_id, reply["message_id"]))
        return msg

    def _edit_message(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self._messages:
            raise TelegramRejects("Bad Request: message to edit not found")
        text = _checked_text(params)
        _check_keyboard(params.get("reply_markup"))
        msg = dict(self._messages[key], text=text, edit_date=int(time.time()))
        msg["reply_markup"] = params.get("reply_markup")  # an edit without one removes it
        self._messages[key] = msg
        return msg

    def _new_message(self, chat: dict, sender: dict, text: str | None) -> dict[str, Any]:
        with self._lock:
            message_id = self._next_message_id
            self._next_message_id += 1
            msg = {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": sender}
            if text is not None:
                msg["text"] = text
            self._messages[(chat["id"], message_id)] = msg
        return msg


def _checked_text(params: dict[str, Any]) -> str:
    text = params.get("text") or ""
    plain = parse_html(text) if params.get("parse_mode") == "HTML" else text
    if not plain.strip():
        raise TelegramRejects("Bad Request: message text is empty")
    if utf16_len(plain) > MAX_TEXT:
        raise TelegramRejects("Bad Request: message is too long")
    return plain


def _check_keyboard(markup: dict[str, Any] | None) -> None:
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                raise TelegramRejects("Bad Request: BUTTON_DATA_INVALID")
            if not button.get("text"):
                raise TelegramRejects("Bad Request: BUTTON_TEXT_INVALID")


def _entities(text: str) -> list[dict[str, Any]]:
    """bot_command and mention entities, as Telegram adds them (offsets in UTF-16 units)."""
    found = []
    if command := _COMMAND.match(text):
        found.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))})
    for mention in _MENTION.finditer(text):
        offset = utf16_len(text[: mention.start()])
        found.append({"type": "mention", "offset": offset, "length": utf16_len(mention.group(0))})
    return found


def _decode(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        return json.loads(body or b"{}")
    params: dict[str, Any] = {}
    for name, value in parse_qsl(body.decode(), keep_blank_values=True):
        if name in _STRING_PARAMS:
            params[name] = value
            continue
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    return params


def _reply(request: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    try:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a long poll cancelled on shutdown)
