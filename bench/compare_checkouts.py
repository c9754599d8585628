"""Open-time and answer latency of this checkout beside another one (a baseline), in the same run.

    python bench/compare_checkouts.py --baseline /ruta/a/otro/checkout [--data-dir data] [--rounds 3]

Both answer the dev questions from the same index (`--data-dir`, built with `exporta ingest`),
alternating, each in its own process, opened as a server opens it (`warm=True` where the checkout
has it: the snapshot read whole before the first question); the figures are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
DEV = HERE.parent / "shared" / "eval" / "dev.jsonl"

MEASURE = """
import json, statistics, sys, time
from pathlib import Path
started = time.perf_counter()
from retrieval.service import AnswerService
try:
    from bot.settings import load_settings
except ImportError:  # a checkout from before the settings split
    from retrieval.settings import load_settings
settings = load_settings(data_dir=Path(sys.argv[1]))
try:
    service = AnswerService.from_settings(settings, warm=True)
except TypeError:  # a checkout from before warm snapshots
    service = AnswerService.from_settings(settings)
opened = time.perf_counter() - started
times = []
for question in [json.loads(line)["question"] for line in open(sys.argv[2])]:
    start = time.perf_counter()
    service.answer(question)
    times.append((time.perf_counter() - start) * 1000)
times.sort()
print(json.dumps({"open_s": opened, "p50_ms": statistics.median(times),
                  "p95_ms": times[int(len(times) * 0.95)]}))
"""


def measure(checkout: Path, data_dir: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(data_dir), str(DEV)],
        cwd=checkout, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"baseline": [], "this checkout": []}
    for _ in range(args.rounds):
        runs["baseline"].append(measure(args.baseline.resolve(), args.data_dir.resolve()))
        runs["this checkout"].append(measure(HERE, args.data_dir.resolve()))
    print(f"{'':16}{'open (s)':>10}{'p50 (ms)':>10}{'p95 (ms)':>10}   (median of {args.rounds})")
    for name, results in runs.items():
        figures = [statistics.median(r[k] for r in results) for k in ("open_s", "p50_ms", "p95_ms")]
        print(f"{name:16}{figures[0]:>10.2f}{figures[1]:>10.1f}{figures[2]:>10.1f}")


if __name__ == "__main__":
    main()
