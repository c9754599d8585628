"""The chat page and the passage view: static HTML with the Spanish texts of messages.toml."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot.web.context import web
from prompts import unfilled
from retrieval.service import HISTORY_TURNS
from retrieval.text import STOPWORDS

STATIC_DIR = Path(__file__).with_name("static")
TEXTS_PLACEHOLDER = "__TEXTOS__"

# Texts the page's scripts show (they fill in the placeholders themselves).
PAGE_TEXTS = (
    "page_waiting",
    "page_composing",
    "page_done",
    "page_abstained",
    "page_sources",
    "page_nearest_sources",
    "page_open_passage",
    "page_page",
    "page_source_label",
    "page_network_error",
    "page_dropped",
    "page_server_error",
    "page_documents",
    "page_no_documents",
    "page_cleared",
    "page_you",
    "page_assistant",
    "page_loading_passage",
    "page_previous",
    "page_next",
    "page_passage_cited",
    "page_context",
    "page_vote_question",
    "page_vote_up",
    "page_vote_down",
    "page_vote_sending",
    "page_vote_thanks",
    "page_vote_error",
)

router = APIRouter(include_in_schema=False)


def page_texts() -> dict[str, str]:
    """The page texts keyed without the `page_` prefix, placeholders left as `{name}`."""
    return {key.removeprefix("page_"): unfilled(f"web.{key}") for key in PAGE_TEXTS}


@cache
def render(name: str) -> str:
    """A page of static/ with the texts inlined as JSON (`<` escaped for the script element),
    the stopwords BM25 ignores (the page does not highlight them either) and the conversation
    turns the service reads (the page sends no more)."""
    inlined = {
        **page_texts(),
        "stopwords": " ".join(sorted(STOPWORDS)),
        "history_turns": str(HISTORY_TURNS),
    }
    texts = json.dumps(inlined, ensure_ascii=False).replace("<", "\\u003c")
    return (STATIC_DIR / name).read_text(encoding="utf-8").replace(TEXTS_PLACEHOLDER, texts)


@router.get("/", response_class=HTMLResponse)
async def chat_page() -> HTMLResponse:
    return HTMLResponse(render("index.html"))


@router.get("/documentos/{doc_id}", response_class=HTMLResponse)
async def passage_page(request: Request, doc_id: str) -> HTMLResponse:
    """The passage view; its script reads the chunk id from `#chunk-…` and shows it in context."""
    passages = web(request).passages()
    known = passages is None or passages.first_chunk_id(doc_id) is not None
    return HTMLResponse(render("documento.html"), status_code=200 if known else 404)
