"""The staff page: static/admin.html with the texts its scripts show, from messages.toml."""

from __future__ import annotations

import json
from functools import cache

from bot.web.pages import STATIC_DIR, TEXTS_PLACEHOLDER, page_texts
from prompts import message, unfilled

# Texts of [staff] the page's scripts show (`page_<name>` there, `staff_<name>` in the page);
# the scripts fill in the placeholders themselves.
STAFF_TEXTS = (
    "token_rejected",
    "checking",
    "signed_out",
    "no_job",
    "sending",
    "job_started",
    "job_line",
    "preparing",
    "current",
    "job_done",
    "job_not_done",
    "no_jobs",
    "choose_files",
    "confirm_reindex",
    "confirm_remove",
    "chunks",
    "replace",
    "replace_label",
    "remove",
    "remove_label",
    "new_version",
    "cancel",
    "no_history",
    "history",
    "version",
    *(f"action_{a}" for a in ("add", "replace", "remove", "reindex")),
    *(f"state_{s}" for s in ("queued", "running", "succeeded", "failed", "interrupted")),
    "no_audit",
    "loading_report",
    "report_all",
    "report_since",
    "report_totals",
    "report_unanswered",
    "report_no_unanswered",
    "report_asked",
    "report_variants",
    "report_downvoted",
    "report_no_downvoted",
    "report_votes",
    "report_answer_given",
    "report_per_day",
    "report_no_questions",
    "report_day",
    "report_total",
)
# How an audit entry's result reads on the page (jobs' own states read as `state_*`).
AUDIT_RESULTS = ("started", "busy", "rejected", "unauthorized", "viewed", "interrupted")
# How a document version's action reads in its history (the CLI's words too).
VERSION_ACTIONS = ("added", "replaced", "removed", "reindexed")


def staff_texts() -> dict[str, str]:
    """The chat page's texts (errors, counts) plus the staff page's own."""
    texts = page_texts()
    for name in STAFF_TEXTS:
        texts[f"staff_{name}"] = unfilled(f"staff.page_{name}")
    for action in VERSION_ACTIONS:
        texts[f"staff_version_{action}"] = message(f"admin.action_{action}")
    for result in AUDIT_RESULTS:
        texts[f"staff_result_{result}"] = message(f"staff.page_result_{result}")
    return texts


@cache
def render_admin_page() -> str:
    texts = json.dumps(staff_texts(), ensure_ascii=False).replace("<", "\\u003c")
    html = (STATIC_DIR / "admin.html").read_text(encoding="utf-8")
    return html.replace(TEXTS_PLACEHOLDER, texts)
