"""Scoring on gold questions, exactly as ../shared/eval/README.md defines it."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.service import AnswerService
from retrieval.text import fold_accents

logger = logging.getLogger(__name__)

_NUMERIC_KEY = re.compile(r"^[\d\s.,%]+$")


def word_ngrams(text: str, n: int = 5) -> list[str]:
    words = fold_accents(text).split(" ")
    if len(words) <= n:
        return [" ".join(words)]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def supports(chunk_text: str, snippet: str) -> bool:
    """At least half of the snippet's folded word 5-grams occur in the folded chunk."""
    grams = word_ngrams(snippet)
    folded = fold_accents(chunk_text)
    return sum(g in folded for g in grams) * 2 >= len(grams)


def first_hit_rank(texts: list[str], evidence: list[str], multihop: bool) -> int | None:
    """1-based rank at which the item is a hit (every snippet covered for multihop)."""
    if multihop:
        ranks = []
        for snippet in evidence:
            rank = next((i for i, t in enumerate(texts, 1) if supports(t, snippet)), None)
            if rank is None:
                return None
            ranks.append(rank)
        return max(ranks)
    return next((i for i, t in enumerate(texts, 1) if any(supports(t, s) for s in evidence)), None)


def _lenient(text: str) -> str:
    t = fold_accents(text)
    t = re.sub(r"(?<=\d)[\s.,](?=\d)", "", t)
    t = re.sub(r"(?<=\d)\s+%", "%", t)
    return re.sub(r"\bs\.\s?(?=\d)", "s", t)


def builtin_answer_has_key(answer: str, key: str) -> bool:
    """The grader's matcher without its alias table (used when verify.py is not beside the gold)."""
    a, k = _lenient(answer), _lenient(key)
    if not k:
        return False
    if _NUMERIC_KEY.match(k):
        return re.search(r"(?<!\d)" + re.escape(k) + r"(?!\d)", a) is not None
    return k in a


def key_matcher(gold_path: Path) -> Callable[[str, str], bool]:
    """`answer_has_key` from the verify.py shipped beside the gold file, else the built-in one."""
    verify = gold_path.parent / "verify.py"
    if verify.is_file():
        spec = importlib.util.spec_from_file_location("exporta_gold_verify", verify)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.answer_has_key
    return builtin_answer_has_key


@dataclass
class ItemResult:
    id: str
    category: str
    rank: int | None
    keys_ok: bool
    abstained: bool
    latency_ms: float
    answer: str


@dataclass
class EvalReport:
    k: int
    items: list[ItemResult] = field(default_factory=list)

    def metrics(self, items: list[ItemResult] | None = None) -> dict[str, float | int | None]:
        items = self.items if items is None else items
        answerable = [i for i in items if i.category != "unanswerable"]
        unanswerable = [i for i in items if i.category == "unanswerable"]

        def share(rows, predicate):
            return round(sum(map(predicate, rows)) / len(rows), 3) if rows else None

        latencies = sorted(i.latency_ms for i in items)
        return {
            "n": len(items),
            "hit@1": share(answerable, lambda i: i.rank is not None and i.rank <= 1),
            "hit@5": share(answerable, lambda i: i.rank is not None and i.rank <= 5),
            "hit@10": share(answerable, lambda i: i.rank is not None and i.rank <= 10),
            "mrr@10": share(answerable, lambda i: 1 / i.rank if i.rank and i.rank <= 10 else 0),
            "answer_key_accuracy": share(answerable, lambda i: i.keys_ok),
            "abstention_accuracy": share(unanswerable, lambda i: i.abstained),
            "false_abstention_rate": share(answerable, lambda i: i.abstained),
            "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "latency_p95_ms": round(_percentile(latencies, 95), 1) if latencies else None,
        }

    def by_category(self) -> dict[str, dict]:
        groups: dict[str, list[ItemResult]] = defaultdict(list)
        for item in self.items:
            groups[item.category].append(item)
        return {c: self.metrics(rows) for c, rows in sorted(groups.items())}

    def to_dict(self) -> dict:
        return {
            "k": self.k,
            "overall": self.metrics(),
            "by_category": self.by_category(),
            "items": [vars(i) for i in self.items],
        }

    def table(self) -> str:
        columns = ["n", "hit@1", "hit@5", "hit@10", "mrr@10", "answer_key_accuracy",
                   "abstention_accuracy", "false_abstention_rate"]  # fmt: skip
        heads = ["n", "hit@1", "hit@5", "hit@10", "MRR@10", "claves", "abst.", "abst.falsa"]
        lines = [f"{'categoría':<14}" + "".join(f"{h:>11}" for h in heads)]
        rows = [("TOTAL", self.metrics()), *self.by_category().items()]
        for name, m in rows:
            cells = "".join(f"{_fmt(m[c]):>11}" for c in columns)
            lines.append(f"{name:<14}{cells}")
        overall = self.metrics()
        lines.append(
            f"latencia p50 {overall['latency_p50_ms']} ms · p95 {overall['latency_p95_ms']} ms"
        )
        return "\n".join(lines)


# What changes from one split of the same questions to another (retrieval does not).
SPLIT_METRICS = {
    "answer_key_accuracy": "claves",
    "abstention_accuracy": "abst.",
    "false_abstention_rate": "abst.falsa",
}


def split_means(reports: dict[int, EvalReport]) -> dict[str, float | None]:
    """Each of SPLIT_METRICS averaged over several splits (seed -> report) of the same questions."""
    means: dict[str, float | None] = {}
    for name in SPLIT_METRICS:
        values = [v for r in reports.values() if (v := r.metrics()[name]) is not None]
        means[name] = round(statistics.fmean(values), 3) if values else None
    return means


def splits_table(reports: dict[int, EvalReport]) -> str:
    """One row per split (seed -> report), then their mean."""
    lines = [f"{'semilla':<14}" + "".join(f"{h:>11}" for h in SPLIT_METRICS.values())]
    for seed, report in reports.items():
        metrics = report.metrics()
        lines.append(f"{seed:<14}" + "".join(f"{_fmt(metrics[m]):>11}" for m in SPLIT_METRICS))
    means = split_means(reports)
    lines.append(f"{'media':<14}" + "".join(f"{_fmt(means[m]):>11}" for m in SPLIT_METRICS))
    return "\n".join(lines)


def _fmt(value) -> str:
    return "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))


def _percentile(sorted_values: list[float], pct: float) -> float:
    index = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def load_gold(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate(service: AnswerService, gold_path: Path, k: int = 10) -> EvalReport:
    """Run every gold question through the service and score it."""
    has_key = key_matcher(gold_path)
    report = EvalReport(k=k)
    for item in load_gold(gold_path):
        result = service.answer(item["question"], k=k)
        texts = [s.text for s in result.sources]
        category = item["category"]
        rank = (
            None
            if category == "unanswerable"
            else first_hit_rank(texts, item["evidence"], multihop=category == "multihop")
        )
        keys_ok = not result.abstained and all(
            has_key(result.answer, key) for key in item["must_contain"]
        )
        report.items.append(
            ItemResult(
                item["id"],
                category,
                rank,
                keys_ok,
                result.abstained,
                result.timings_ms["total"],
                result.answer,
            )  # fmt: skip
        )
    return report
