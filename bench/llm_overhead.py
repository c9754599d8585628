"""Exporta's own cost when a language model writes the answers, against a model that costs nothing.

    python bench/llm_overhead.py [--data-dir data] [--questions 20] [--gold ../shared/eval/dev.jsonl]

Answers gold questions on the given index three ways in one run: quoted (no model), and through
the real langchain-openai and langchain-ollama clients talking to the fake server of the tests
(tests/fake_llm.py), which streams a grounded sentence back at once. Prints time to the first
streamed token and total time (p50/p95) for each, so the overhead of the chain, the HTTP stream
and the grounding guard is known apart from any real model's speed. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_llm import FakeLlm, Reply  # noqa: E402

from bot.settings import load_settings  # noqa: E402
from retrieval.llm import LlmComposer  # noqa: E402
from retrieval.service import AnswerService  # noqa: E402


def timed(service: AnswerService, question: str) -> tuple[float, float, bool]:
    """(ms to the first token event, ms to done, whether the model wrote it)."""
    started, first = time.perf_counter(), None
    for event in service.answer_events(question):
        if event.kind == "token" and first is None:
            first = time.perf_counter()
    done = time.perf_counter()
    by_model = event.data.written_by == "llm"
    return ((first or done) - started) * 1000, (done - started) * 1000, by_model


def figures(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"p50 {statistics.median(ordered):7.1f} ms · p95 {p95:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--gold", type=Path, default=ROOT.parent / "shared/eval/dev.jsonl")
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    lines = args.gold.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines[: args.questions]]
    settings = load_settings(data_dir=args.data_dir)
    quoted = AnswerService.from_settings(settings)
    services = {"quoted (no model)": quoted}
    with FakeLlm() as llm:
        # No number or name to check: the guard keeps it, as it keeps a grounded sentence.
        llm.default = Reply(["Según el ", "pasaje, ", "esto es lo que dice."], pace=0)
        for provider, url in (("openai", llm.openai_url), ("ollama", llm.ollama_url)):
            changes = {"llm_provider": provider, "llm_model": "fake", "llm_base_url": url}
            written = settings.model_copy(update=changes)
            composer = LlmComposer.from_settings(written)
            services[f"{provider} (fake server)"] = AnswerService(
                quoted.store, quoted.embedder, written, composer=composer
            )
        for service in services.values():
            timed(service, questions[0])  # warm: the first call loads what it needs
        results = {name: [timed(s, q) for q in questions] for name, s in services.items()}
    print(f"{len(questions)} questions of {args.gold.name}, index {args.data_dir}")
    for name, times in results.items():
        first, total, by_model = zip(*times, strict=True)
        print(f"{name:20s} first token {figures(list(first))}   total {figures(list(total))}"
              f"   written by the model: {sum(by_model)}")  # fmt: skip


if __name__ == "__main__":
    main()
