"""Ablation on cross-validation folds: each mechanism switched off in turn, the policy refitted.

.venv/bin/python bench/ablation.py [--gold ../shared/eval/train.jsonl] [--folds 5]

Query-time mechanisms are patched off and the questions retrieved again; feature groups of the
answer policy are blanked (a constant column carries no weight) and the policy is refitted on the
folds. Every figure is out of fold. Mechanisms built at ingestion need a re-index to switch off.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
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
# Feature groups of the answer policy (retrieval/features.py), blanked together.
UNIT_GROUPS = {
    "− cobertura léxica de la unidad": ("cover", "cover_ctx", "cover_rel", "cover_rank"),
    "− similitud e5 de la unidad": ("dense", "dense_rel", "dense_rank"),
    "− vecinas y fragmento": ("cover_chunk", "cover_next", "cover_prev", "best_in_chunk"),
    "− tipo de pregunta × unidad": ("*",),
}
QUESTION_GROUPS = {
    "− acuerdo denso–léxico (abstención)": ("dense_top_chunk", "agreement"),
}


@contextlib.contextmanager
def patched(target: object, name: str, value: object) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, original)


def retrieval_variants(service) -> dict[str, Callable[[], contextlib.AbstractContextManager]]:
    """Name -> a context in which one query-time mechanism is off."""
    from retrieval import hybrid
    from retrieval import service as service_module

    retriever = service.retriever
    return {
        "− rerank por oración": lambda: patched(hybrid, "RERANK_WEIGHT", 0.0),
        "− tablas del año pedido": lambda: patched(hybrid, "YEAR_TABLE_WEIGHT", 0.0),
        "− documentos nombrados": lambda: patched(service_module, "named_documents", lambda *_: []),
        "− denso (solo BM25)": lambda: patched(retriever, "_weights", [0.0, 1.0]),
        "− BM25 (solo denso)": lambda: patched(retriever, "_weights", [1.0, 0.0]),
        "− corrección ortográfica": lambda: patched(service.settings, "spelling_correction", False),
        "− glosario": lambda: patched(service, "_glossary_chunks", lambda *_: []),
    }


def blank_units(examples, names: tuple[str, ...]):
    from retrieval.features import UNIT_FEATURES

    columns = [i for i, f in enumerate(UNIT_FEATURES) if f in names or ("*" in names and "*" in f)]
    out = copy.copy(examples)
    for i, e in enumerate(out):
        x = e.delib.units_x().copy()
        x[:, columns] = 0.0
        delib = copy.copy(e.delib)
        delib.unit_x = x
        out[i] = copy.copy(e)
        out[i].delib = delib
    return out


def blank_signals(examples, names: tuple[str, ...]):
    out = copy.copy(examples)
    for i, e in enumerate(out):
        delib = copy.copy(e.delib)
        delib.signals = {k: (0.0 if k in names else v) for k, v in e.delib.signals.items()}
        out[i] = copy.copy(e)
        out[i].delib = delib
    return out


def ablation_table(service, gold: Path, folds: int = 5) -> str:
    from retrieval.training import cross_validate, load_examples

    base = load_examples(service, gold)
    rows = [("sistema completo", cross_validate(base, folds).metrics())]
    for name, names in UNIT_GROUPS.items():
        rows.append((name, cross_validate(blank_units(base, names), folds).metrics()))
    for name, names in QUESTION_GROUPS.items():
        rows.append((name, cross_validate(blank_signals(base, names), folds).metrics()))
    for name, context in retrieval_variants(service).items():
        with context():
            examples = load_examples(service, gold)
        rows.append((name, cross_validate(examples, folds).metrics()))
    header = f"{'variante':<40}" + "".join(f"{h:>12}" for h in METRICS.values())
    lines = [header]
    for name, m in rows:
        cells = "".join(f"{'-' if m[k] is None else f'{m[k]:.3f}':>12}" for k in METRICS)
        lines.append(f"{name:<40}{cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gold", default=str(ROOT.parent / "shared" / "eval" / "train.jsonl"))
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.disable(logging.WARNING)
    from retrieval.service import AnswerService
    from retrieval.settings import load_settings

    service = AnswerService.from_settings(load_settings())
    print(ablation_table(service, Path(args.gold), args.folds))


if __name__ == "__main__":
    main()
