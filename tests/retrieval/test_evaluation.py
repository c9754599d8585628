"""Gold-question scoring as ../shared/eval/README.md defines it, and `evaluate` on the fixture index."""

import json
from pathlib import Path

import pytest

from retrieval.evaluation import (
    EvalReport,
    ItemResult,
    builtin_answer_has_key,
    evaluate,
    first_hit_rank,
    key_matcher,
    split_means,
    splits_table,
    supports,
)

# 12 words, so 8 word 5-grams
SNIPPET = "La Ventanilla Única de Comercio Exterior cuenta con más de 360 procesos"


def test_chunk_containing_the_snippet_supports_it_whatever_the_accents_case_and_spacing():
    chunk = "Dato: la ventanilla unica de COMERCIO exterior\n cuenta  con mas de 360 procesos digitales."
    assert supports(chunk, SNIPPET)


def test_half_of_the_word_5_grams_is_enough():
    words = SNIPPET.split()
    assert supports(" ".join(words[:8]), SNIPPET)  # 4 of 8 five-grams
    assert not supports(" ".join(words[:7]), SNIPPET)  # 3 of 8
    assert supports(" ".join(words[4:]), SNIPPET)  # the last 4 of 8


def test_snippet_of_five_words_or_fewer_must_occur_whole():
    assert supports("El PERX de Moquegua prioriza el pisco.", "PERX de Moquegua")
    assert not supports("El PERX de Tacna.", "PERX de Moquegua")


def test_first_hit_rank_for_single_document_items():
    texts = ["Texto sin relación.", "También sin relación.", SNIPPET, SNIPPET]
    assert first_hit_rank(texts, ["Otro fragmento que no aparece.", SNIPPET], multihop=False) == 3
    nowhere = ["Otro fragmento que no aparece en ninguno."]
    assert first_hit_rank(texts, nowhere, multihop=False) is None


def test_multihop_items_need_every_snippet_and_rank_at_the_last_one():
    other = "CERX: Comités Ejecutivos Regionales Exportadores del Perú"
    texts = [other, "Nada.", SNIPPET]
    assert first_hit_rank(texts, [SNIPPET, other], multihop=True) == 3
    assert first_hit_rank(texts[:2], [SNIPPET, other], multihop=True) is None


KEY_CASES = [
    ("Se exportaron 44.633 toneladas [1]", "44 633", True),
    ("La tasa fue de 0.32 % [2]", "0,32%", True),
    ("Son 180 productores [1]", "80", False),  # a numeric key matches whole numbers only
    ("Son 80 productores [1]", "80", True),
    ("Lo presta el servicio S3.1.1 [1]", "S.3.1.1", True),
    ("Lo provee PROMPERÚ [1]", "Promperu", True),
    ("Lo provee MINCETUR [1]", "PROMPERÚ", False),
]


@pytest.mark.parametrize(("answer", "key", "found"), KEY_CASES)
def test_builtin_key_matcher(answer, key, found):
    assert builtin_answer_has_key(answer, key) is found


def test_builtin_key_matcher_agrees_with_the_shared_verify_py():
    gold_dir = Path(__file__).resolve().parents[3] / "shared" / "eval"
    if not (gold_dir / "verify.py").is_file():
        pytest.skip("../shared/eval/verify.py is not beside this checkout")
    shared = key_matcher(gold_dir / "dev.jsonl")
    assert shared is not builtin_answer_has_key
    for answer, key, found in KEY_CASES:
        assert shared(answer, key) is found, (answer, key)


def test_key_matcher_prefers_the_verify_py_beside_the_gold(tmp_path):
    gold = tmp_path / "gold.jsonl"
    assert key_matcher(gold) is builtin_answer_has_key
    (tmp_path / "verify.py").write_text(
        "def answer_has_key(answer, key):\n    return key == 'alias'\n", encoding="utf-8"
    )
    matcher = key_matcher(gold)
    assert matcher("cualquier respuesta", "alias") and not matcher("alias", "otra")


GOLD = [
    {
        "id": "t-001", "category": "requirement",
        "question": "¿Qué exige China para exportar moluscos?",
        "must_contain": ["zoo-fitosanitarios"],
        "evidence": ["China exige requisitos zoo-fitosanitarios que se definen con acuerdos entre gobiernos."],
    },
    {
        "id": "t-002", "category": "responsible",
        "question": "quien provee el servicio de capacitacion en calidad para exportadores?",
        "must_contain": ["MINCETUR"],
        "evidence": ["Nombre del servicio S5.2.1 Capacitación en calidad para exportadores."],
    },
    {
        "id": "t-003", "category": "fact",
        "question": "¿Cuántas OCEX tiene el Perú?",
        "must_contain": ["cuarenta"],  # the document says thirty: the key is missed on purpose
        "evidence": ["El Perú tiene cuarenta oficinas comerciales en el exterior repartidas por el mundo."],
    },
    {
        "id": "t-004", "category": "unanswerable",
        "question": "¿Quién ganó el partido de fútbol entre Alianza Lima y Universitario?",
        "must_contain": [], "evidence": [],
    },
]  # fmt: skip


@pytest.fixture(scope="module")
def report(service, tmp_path_factory):
    gold = tmp_path_factory.mktemp("gold") / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(item, ensure_ascii=False) for item in GOLD) + "\n\n")
    return evaluate(service, gold, k=10)


def test_each_item_is_scored(report):
    rows = [(i.id, i.category, i.rank, i.keys_ok, i.abstained) for i in report.items]
    assert rows == [
        ("t-001", "requirement", 1, True, False),
        ("t-002", "responsible", 1, True, False),
        ("t-003", "fact", None, False, False),
        ("t-004", "unanswerable", None, False, True),
    ]
    assert all(i.latency_ms > 0 and i.answer for i in report.items)


def test_metrics_over_the_items(report):
    metrics = report.metrics()
    assert {k: v for k, v in metrics.items() if not k.startswith("latency")} == {
        "n": 4,
        "hit@1": 0.667,
        "hit@5": 0.667,
        "hit@10": 0.667,
        "mrr@10": 0.667,
        "answer_key_accuracy": 0.667,
        "abstention_accuracy": 1.0,
        "false_abstention_rate": 0.0,
    }
    assert 0 < metrics["latency_p50_ms"] <= metrics["latency_p95_ms"]


def test_metrics_by_category_and_report_formats(report):
    by_category = report.by_category()
    assert list(by_category) == ["fact", "requirement", "responsible", "unanswerable"]
    assert by_category["fact"]["hit@5"] == 0.0
    assert by_category["unanswerable"]["hit@5"] is None
    as_dict = json.loads(json.dumps(report.to_dict()))
    assert (as_dict["k"], as_dict["overall"]["n"], len(as_dict["items"])) == (10, 4, 4)
    table = report.table()
    assert table.splitlines()[0].split() == [
        "categoría", "n", "hit@1", "hit@5", "hit@10", "MRR@10", "claves", "abst.", "abst.falsa"
    ]  # fmt: skip
    assert table.splitlines()[1].split()[:4] == ["TOTAL", "4", "0.667", "0.667"]
    assert "latencia p50" in table


def _split(keys_ok: list[bool], abstained_on_unanswerable: list[bool]) -> EvalReport:
    report = EvalReport(k=10)
    for i, ok in enumerate(keys_ok):
        report.items.append(ItemResult(f"a{i}", "fact", 1, ok, False, 10.0, "…"))
    for i, abstained in enumerate(abstained_on_unanswerable):
        report.items.append(ItemResult(f"u{i}", "unanswerable", None, False, abstained, 10.0, ""))
    return report


def test_several_splits_are_summarised_row_by_row_and_by_their_mean():
    reports = {13: _split([True, False], [True]), 21: _split([True, True], [False])}
    means = split_means(reports)
    assert means == {
        "answer_key_accuracy": 0.75,
        "abstention_accuracy": 0.5,
        "false_abstention_rate": 0.0,
    }
    rows = splits_table(reports).splitlines()
    assert rows[1].split() == ["13", "0.500", "1.000", "0.000"]
    assert rows[2].split() == ["21", "1.000", "0.000", "0.000"]
    assert rows[3].split() == ["media", "0.750", "0.500", "0.000"]


def test_a_metric_no_split_can_measure_has_no_mean():
    means = split_means({13: _split([True], []), 21: _split([False], [])})
    assert means["answer_key_accuracy"] == 0.5
    assert means["abstention_accuracy"] is None
