"""Quality, speed and memory figures for Exporta on the full bundled corpus, in one run.

Prints ingest times, answer latency and memory, the quality of the answer policy cross-validated
on train.jsonl (5 folds) and on dev.jsonl with the committed policy (hit@k, MRR, answer keys,
abstention, overall and per category), and the ablation on folds (bench/ablation.py); asserts
nothing.

.venv/bin/python bench/run_bench.py                 # no-change re-ingest, query latency, memory
.venv/bin/python bench/run_bench.py --rebuild       # also time a full rebuild (minutes)
.venv/bin/python bench/run_bench.py --gold ../shared/eval/dev.jsonl --repeat 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPORTA = str(Path(sys.executable).with_name("exporta"))


def timed_ingest(*flags: str) -> float:
    started = time.perf_counter()
    subprocess.run([EXPORTA, "ingest", "-q", *flags], check=False, cwd=ROOT, capture_output=True)
    return time.perf_counter() - started


def peak_rss_mb(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rebuild", action="store_true", help="time a full rebuild first")
    parser.add_argument("--gold", default=str(ROOT.parent / "shared" / "eval" / "dev.jsonl"))
    parser.add_argument("--train", default=str(ROOT.parent / "shared" / "eval" / "train.jsonl"))
    parser.add_argument("--repeat", type=int, default=3, help="passes over the questions")
    parser.add_argument("--no-ablation", action="store_true", help="skip the ablation table")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.disable(logging.WARNING)

    figures: dict[str, float] = {}
    if args.rebuild:
        figures["ingest_rebuild_s"] = round(timed_ingest("--rebuild"), 1)
        figures["ingest_rebuild_peak_rss_mb"] = round(peak_rss_mb(children=True), 1)
    figures["ingest_no_change_s"] = round(timed_ingest(), 2)

    from retrieval.service import AnswerService
    from retrieval.settings import load_settings

    started = time.perf_counter()
    service = AnswerService.from_settings(load_settings(), warm=True)  # as a server opens it
    figures["service_open_s"] = round(time.perf_counter() - started, 2)
    with open(args.gold, encoding="utf-8") as fh:
        questions = [json.loads(line)["question"] for line in fh if line.strip()]
    service.answer(questions[0])  # warm-up
    totals, retrieves = [], []
    for _ in range(args.repeat):
        for question in questions:
            answer = service.answer(question)
            totals.append(answer.timings_ms["total"])
            retrieves.append(answer.timings_ms["retrieve"])
    figures.update(
        questions=len(totals),
        answer_p50_ms=round(statistics.median(totals), 1),
        answer_p95_ms=round(percentile(totals, 95), 1),
        retrieve_p50_ms=round(statistics.median(retrieves), 1),
        query_peak_rss_mb=round(peak_rss_mb(), 1),
        chunks=len(service.retriever.chunks),
    )
    for name, value in figures.items():
        print(f"{name:<28}{value}")

    from retrieval.evaluation import evaluate
    from retrieval.training import cross_validate, load_examples

    train = Path(args.train)
    print()
    print(f"Validación cruzada (5 partes) en {train.name}:")
    print(cross_validate(load_examples(service, train), 5).table())
    print()
    print(f"{Path(args.gold).name} con la política guardada (entrenada en {train.name}):")
    print(evaluate(service, Path(args.gold), k=10).table())
    if not args.no_ablation:
        from ablation import ablation_table

        print()
        print(f"Ablación en las particiones de {train.name} (cada mecanismo apagado por separado):")
        print(ablation_table(service, train))


if __name__ == "__main__":
    main()
