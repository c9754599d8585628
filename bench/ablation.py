"""Ablation on the dev set: each query-time mechanism switched off in turn, on the same index.

.venv/bin/python bench/ablation.py [--gold ../shared/eval/dev.jsonl]

Mechanisms built at ingestion (structure-aware chunks, card names in sections, facts) need a
re-index to switch off; `facts` here only stops the answerer from using them.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METRICS = {
    "hit@1": "hit@1",
    "hit@5": "hit@5",
    "mrr@10": "MRR@10",
    "answer_key_accuracy": "claves",
    "abstention_accuracy": "abst.",
    "false_abstention_rate": "abst.falsa",
}


@contextlib.contextmanager
def patched(target: object, name: str, value: object) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, original)


def variants(service) -> dict[str, Callable[[], contextlib.AbstractContextManager]]:
    """Name -> a context in which one mechanism is off."""
    from retrieval import answerer, hybrid
    from retrieval import service as service_module

    retriever = service.retriever
    return {
        "sistema completo": contextlib.nullcontext,
        "− rerank por oración": lambda: patched(hybrid, "RERANK_WEIGHT", 0.0),
        "− tablas del año pedido": lambda: patched(hybrid, "YEAR_TABLE_WEIGHT", 0.0),
        "− pregunta en dos partes": lambda: patched(
            service_module, "split_question", lambda q: [q]
        ),
        "− solo BM25 (sin denso)": lambda: patched(retriever, "_weights", [0.0, 1.0]),
        "− solo denso (sin BM25)": lambda: patched(retriever, "_weights", [1.0, 0.0]),
        "− corrección ortográfica": lambda: patched(service.settings, "spelling_correction", False),
        "− glosario": lambda: patched(service, "_glossary_chunks", lambda *_: []),
        "− hechos de fichas y tablas": lambda: patched(answerer, "fact_quotes", lambda *_: []),
        "− campos de ficha por tipo": lambda: patched(answerer, "FIELD_BONUS", 0.0),
        "− abstención por cobertura": lambda: patched(service_module, "MIN_TERM_COVERAGE", 0.0),
        "− abstención por palabra rara ausente": lambda: patched(
            service_module, "MIN_MISSING_RARITY", float("inf")
        ),
    }


def ablation_table(service, gold: Path) -> str:
    """One row of dev-set figures per variant."""
    from retrieval.evaluation import evaluate

    header = f"{'variante':<40}" + "".join(f"{label:>12}" for label in METRICS.values())
    lines = [header]
    for name, context in variants(service).items():
        with context():
            overall = evaluate(service, gold, k=10).metrics()
        cells = "".join(f"{_fmt(overall.get(m)):>12}" for m in METRICS)
        lines.append(f"{name:<40}{cells}")
    return "\n".join(lines)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gold", default=str(ROOT.parent / "shared" / "eval" / "dev.jsonl"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.disable(logging.WARNING)
    from retrieval.service import AnswerService
    from retrieval.settings import load_settings

    service = AnswerService.from_settings(load_settings())
    print(ablation_table(service, Path(args.gold)))


if __name__ == "__main__":
    main()
