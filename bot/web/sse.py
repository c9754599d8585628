"""Server-Sent Events for a streamed answer: `sources`, then `token` pieces, then `done`
(the pieces are the service's: retrieval.service.answer_pieces, or a model's checked sentences)."""

from __future__ import annotations

import json
from typing import Any


def sse_event(event: str, data: Any) -> str:
    """One event in the text/event-stream format; the data is one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
