"""Server-Sent Events for a streamed answer: `sources`, then `token` pieces, then `done`."""

from __future__ import annotations

import json
import re
from typing import Any

# A piece ends after a citation group ("… texto [2] "), or else after a sentence, so a
# citation [n] is never split between two events.
_PIECE = re.compile(r".*?\[\d+\](?:\s*\[\d+\])*\s*|.*?[.!?…](?:\s+|$)|.+", re.S)


def answer_pieces(text: str) -> list[str]:
    """The answer in the pieces it is streamed in; joined, they give back `text` exactly."""
    return _PIECE.findall(text)


def sse_event(event: str, data: Any) -> str:
    """One event in the text/event-stream format; the data is one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
