"""The learned answer policy: unit scorer, abstention classifier and quote selection, on small
synthetic deliberations (no gold question is copied here)."""

import re
from pathlib import Path

import numpy as np
import pytest

from retrieval.errors import PolicyMissing
from retrieval.evaluation import builtin_answer_has_key, load_gold, word_ngrams
from retrieval.features import Candidate, QuestionView, unit_terms
from retrieval.policy import AnswerPolicy, Deliberation, LogisticModel, select_quotes
from retrieval.query import QuestionType, classify
from retrieval.text import collapse_whitespace, fold_accents
from retrieval.training import (
    ANSWERED_FILE,
    OUT_OF_SCOPE_FILE,
    SUPPLEMENTS,
    UNCOVERED_FILE,
    Example,
    _spread,
    _threshold,
    collect,
    cross_validate,
    fit_logistic,
    fit_policy,
    fit_scope,
    folds_of,
    new_keys,
    supplement_items,
)
from retrieval.units import Unit

pytest.importorskip("sklearn")

TOPICS = ["orégano", "palta", "pisco", "quinua", "alpaca", "cacao", "café", "uva", "mango", "olivo"]


def _view(question: str) -> QuestionView:
    terms = unit_terms(question)
    weights = {t: 1.0 for t in terms}
    return QuestionView(terms, weights, classify(question), frozenset(), False, np.ones(4) / 2)


def _candidate(text: str, n: int, kind: str = "sentence", vector=None) -> Candidate:
    return Candidate(Unit(text=text, kind=kind, position=0), n, unit_terms(text), vector)


EXPORT = np.ones(4) / 2  # where questions about export documents lie in the toy e5 space
ELSEWHERE = np.asarray([-0.5, -0.5, 0.5, 0.5])


def _responsible_example(topic: str, answered: bool = True, vector=EXPORT) -> Example:
    """'who is responsible for X': the fact unit naming the entity holds the key."""
    question = f"¿quién es responsable de la promoción del {topic}?"
    near = np.ones(4) / 2
    far = np.asarray([0.5, -0.5, 0.5, -0.5])
    units = [
        _candidate(f"La promoción del {topic} es una prioridad de la región.", 1, vector=far),
        _candidate(
            f"Responsable: Dirección Regional de Agricultura (DRA) ({topic}).", 1, "fact", near
        ),
        _candidate("El documento se elaboró con talleres participativos en 2019.", 2, vector=far),
    ]
    if not answered:
        units = [
            _candidate("El clima de la costa es templado y seco durante el año.", 1, vector=far)
        ]
    view = _view(question)
    view.vector = vector
    signals = {
        "dense_top_chunk": 0.9 if answered else 0.8, "agreement": 0.6 if answered else 0.0,
        "n_terms": 1.5,
    }  # fmt: skip
    delib = Deliberation(view, units, signals)
    labels = np.asarray([float(answered and u.unit.kind == "fact") for u in units])
    item = {
        "id": topic, "category": "responsible" if answered else "unanswerable",
        "must_contain": ["Dirección Regional de Agricultura"] if answered else [],
    }  # fmt: skip
    return Example(item, delib, 1 if answered else None, labels, 1.0)


def _examples() -> list[Example]:
    rng_topics = TOPICS * 3
    return [_responsible_example(t, answered=i % 4 != 3) for i, t in enumerate(rng_topics)]


def _supplement(n: int = 12) -> list[Example]:
    """Requests about something else: they read far from export questions, and retrieval finds
    the same weak passages as for an uncovered question."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        vector = ELSEWHERE + rng.normal(0, 0.05, 4)
        e = _responsible_example(
            f"tema {i}", answered=False, vector=vector / np.linalg.norm(vector)
        )
        e.item.update(id=f"fuera-{i}", scored=False, supplement="out_of_scope")
        out.append(e)
    return out


PRICE = np.asarray([0.5, 0.5, -0.5, 0.5])  # today's price of something: no plan gives it


def _uncovered(topic: str, scored: bool = False) -> Example:
    """A question on the documents' subject that they do not answer: retrieval finds a passage
    that reads like an answer, but the question asks for something else (a price)."""
    e = _responsible_example(topic, vector=PRICE)
    e.item.update(category="unanswerable", must_contain=[])
    if not scored:
        e.item.update(id=f"uncovered-{topic}", scored=False, supplement="uncovered")
    e.labels = np.zeros_like(e.labels)
    return e


def _target_example(topic: str, answered: bool = False) -> Example:
    """'how much X': the row with the figure answers it, though a sentence that repeats the
    question's words reads closer."""
    question = f"¿cuántas toneladas de {topic} se exportaron en la región?"
    units = [
        _candidate(f"Las toneladas de {topic} que se exportaron en la región crecieron.", 1),
        _candidate(f"Exportación de {topic}: 1 250 toneladas en 2020.", 2, "row"),
    ]
    item = {"id": f"meta-{topic}", "category": "indicator", "must_contain": ["1 250"]}
    if answered:
        item.update(id=f"answered-{topic}", scored=False, supplement="answered")
    signals = {"dense_top_chunk": 0.9, "agreement": 0.6, "n_terms": 1.5}
    delib = Deliberation(_view(question), units, signals)
    return Example(item, delib, 1, np.asarray([0.0, 1.0]), 1.0)


def test_logistic_model_learns_a_separable_rule_and_round_trips():
    x = np.asarray([[0.0, 1.0], [0.1, 0.9], [1.0, 0.2], [0.9, 0.0]] * 5)
    y = np.asarray([0, 0, 1, 1] * 5, dtype=float)
    model = fit_logistic(x, y, 1.0, ["a", "b"])
    p = model.probability(np.asarray([[1.0, 0.0], [0.0, 1.0]]))
    assert p[0] > 0.8 > 0.2 > p[1]
    again = LogisticModel.from_dict(model.to_dict(), ["a", "b"])
    assert np.allclose(again.probability(x), model.probability(x), atol=1e-5)
    with pytest.raises(PolicyMissing, match="exporta train"):
        LogisticModel.from_dict(model.to_dict(), ["a", "c"])


def test_the_trained_policy_quotes_the_responsible_and_abstains_off_topic(tmp_path):
    policy = fit_policy(_examples(), inner_folds=3)
    new = _responsible_example("maíz morado")
    decision = policy.decide(new.delib)
    assert not decision.abstained
    assert decision.quotes[0].startswith("Responsable: Dirección Regional de Agricultura (DRA)")
    assert decision.quotes[0].endswith("[1]")
    off_topic = policy.decide(_responsible_example("maíz morado", answered=False).delib)
    assert off_topic.abstained and off_topic.quotes == []
    path = tmp_path / "policy.json"
    policy.save(path)
    assert AnswerPolicy.load(path).decide(new.delib).quotes == decision.quotes


def test_cross_validation_scores_every_example_once_out_of_fold():
    examples = _examples()
    report = cross_validate(examples, k=3, fit=lambda part: fit_policy(part, inner_folds=3))
    assert sorted(i.id for i in report.items) == sorted(e.item["id"] for e in examples)
    metrics = report.metrics()
    assert metrics["answer_key_accuracy"] == 1.0 and metrics["abstention_accuracy"] == 1.0


def test_each_split_seed_deals_the_folds_its_own_way_and_scores_every_example_once():
    examples = _examples()
    assert folds_of(examples, 3, 21) != folds_of(examples, 3, 34)
    for seed in (21, 34):
        report = cross_validate(
            examples, k=3, fit=lambda part: fit_policy(part, inner_folds=3), seed=seed
        )
        assert sorted(i.id for i in report.items) == sorted(e.item["id"] for e in examples)


def test_folds_are_stratified_and_reproducible():
    examples = _examples()
    fold = folds_of(examples, 3)
    assert fold == folds_of(examples, 3)
    for f in range(3):
        categories = {e.item["category"] for e, g in zip(examples, fold, strict=True) if g == f}
        assert categories == {"responsible", "unanswerable"}


def test_threshold_keeps_false_abstention_under_the_rate():
    p = np.linspace(0.0, 0.99, 100)
    t = _threshold(p, 0.03)
    assert (p >= t).mean() <= 0.03
    assert (p >= t).sum() == 3


def test_quotes_are_cited_deduplicated_and_within_the_budget():
    view = _view("¿cuántos productores de orégano se capacitan?")
    units = [
        _candidate("Se capacitan 80 productores de orégano en secado al 2025.", 1),
        _candidate("Se capacitan 80 productores de orégano en secado al 2025.", 2),
        _candidate("Los productores de orégano reciben asistencia técnica. " * 12, 3),
        _candidate("El orégano seco se exporta a Brasil y Chile.", 1),
    ]
    delib = Deliberation(view, units, {})
    p = np.asarray([0.9, 0.85, 0.8, 0.1])
    quotes = select_quotes(delib, p, keep_ratio=0.5, max_chars=600)
    assert quotes == ["Se capacitan 80 productores de orégano en secado al 2025. [1]"]
    single = select_quotes(delib, np.asarray([0.1, 0.1, 0.9, 0.1]), 0.5, max_chars=200)
    assert len(single) == 1 and len(single[0]) <= 200 and single[0].endswith("… [3]")


def test_a_question_naming_two_documents_quotes_each_ones_best_unit():
    view = _view("¿qué plantean el plan y la política sobre el orégano?")
    units = [
        _candidate("El plan promueve el secado del orégano en Moquegua.", 1),
        _candidate("El plan capacita a los productores de orégano en secado.", 2),
        _candidate("El plan certifica los campos de orégano orgánico.", 3),
        _candidate("La política ofrece estudios de mercado del orégano.", 4),
    ]
    both = Deliberation(view, units, {}, named_sources=[frozenset({1, 2, 3}), frozenset({4})])
    p = np.asarray([0.9, 0.8, 0.7, 0.2])
    quotes = select_quotes(both, p, keep_ratio=0.5, max_chars=600)
    # The policy's best unit is quoted, although three units of the plan score higher.
    assert [q[-3:] for q in quotes] == ["[1]", "[4]", "[2]", "[3]"]
    one = select_quotes(Deliberation(view, units, {}), p, keep_ratio=0.5, max_chars=600)
    assert [q[-3:] for q in one] == ["[1]", "[2]", "[3]"]


def test_question_types_do_not_depend_on_particular_words_of_one_question():
    assert classify("quien se encarga de la promocion") is QuestionType.RESPONSIBLE
    assert classify("que es la VUCE") is QuestionType.DEFINITION


def test_a_definition_gets_its_expansions_and_one_sentence_on_what_it_is():
    view = _view("¿qué es la VUCE?")
    units = [
        _candidate("SUNAT: Superintendencia Nacional de Aduanas. VUCE: Ventanilla Única.", 1),
        _candidate("Los trámites de comercio exterior se gestionan en línea.", 2),
        _candidate("La VUCE permite gestionar trámites de comercio exterior en línea.", 2),
        _candidate("La VUCE reduce los tiempos de los trámites de exportación e importación.", 2),
    ]
    definitions = ["VUCE: Ventanilla Única de Comercio Exterior. [1]"]
    delib = Deliberation(view, units, {}, definitions, subjects=["vuce"], glossary_sources={1})
    quotes = select_quotes(delib, np.asarray([0.95, 0.92, 0.9, 0.8]), keep_ratio=0.1, max_chars=600)
    # Not the acronym list the expansion came from, nor a sentence that does not name it.
    assert quotes == [
        "VUCE: Ventanilla Única de Comercio Exterior. [1]",
        "La VUCE permite gestionar trámites de comercio exterior en línea. [2]",
    ]


def test_a_unit_that_mostly_repeats_what_was_quoted_is_left_out():
    view = _view("¿quién da la capacitación en calidad?")
    units = [
        _candidate("Responsable: MINCETUR; con participación de: INACAL, INDECOPI.", 1, "fact"),
        _candidate("Proveedor: Responsable MINCETUR con participación de INACAL e INDECOPI.", 1),
        _candidate("Las empresas exportadoras reciben la capacitación en línea y en regiones.", 2),
    ]
    delib = Deliberation(view, units, {})
    quotes = select_quotes(delib, np.asarray([0.9, 0.8, 0.5]), keep_ratio=0.1, max_chars=600)
    assert [q[-3:] for q in quotes] == ["[1]", "[2]"]


def test_a_request_about_something_else_is_out_of_scope_and_a_covered_one_is_not():
    policy = fit_policy(_examples() + _supplement(), inner_folds=3)
    other = _responsible_example("chistes", answered=False, vector=ELSEWHERE)
    decision = policy.decide(other.delib)
    assert decision.abstained and decision.out_of_scope and decision.quotes == []
    uncovered = policy.decide(_responsible_example("maíz morado", answered=False).delib)
    assert uncovered.abstained and not uncovered.out_of_scope
    covered = _responsible_example("maíz morado")
    assert not policy.decide(covered.delib).out_of_scope
    # Reading far from export questions is enough, even when the documents' words are found...
    covered.delib.view.vector = ELSEWHERE
    covered.delib.unit_x = None
    assert policy.decide(covered.delib).out_of_scope
    # ...but not when it names an acronym a glossary defines: a bare acronym may read odd.
    covered.delib.acronyms = ["mme"]
    assert not policy.decide(covered.delib).abstained


def test_each_scope_split_spreads_the_supplements_its_own_way_and_keeps_the_gold_folds():
    examples = _examples() + _supplement()
    fold = folds_of(examples, 3)
    one, other = _spread(fold, 3, seed=1), _spread(fold, 3, seed=2)
    gold = [i for i, g in enumerate(fold) if g >= 0]
    supplement = [i for i, g in enumerate(fold) if g < 0]
    assert [one[i] for i in gold] == [fold[i] for i in gold] == [other[i] for i in gold]
    assert {one[i] for i in supplement} == {0, 1, 2} == {other[i] for i in supplement}
    assert [one[i] for i in supplement] != [other[i] for i in supplement]


def test_without_a_supplement_nothing_is_out_of_scope():
    policy = fit_policy(_examples(), inner_folds=3)
    other = _responsible_example("chistes", answered=False, vector=ELSEWHERE)
    assert not policy.decide(other.delib).out_of_scope


def test_only_the_keys_a_question_does_not_write_make_a_unit_a_positive():
    question = "¿quién organiza la feria del orégano?"
    keys = ["feria", "Cámara de Comercio"]
    assert new_keys(question, keys, builtin_answer_has_key) == ["Cámara de Comercio"]
    # A question that writes every key keeps them all: something must be a positive.
    assert new_keys("¿qué es la feria?", ["feria"], builtin_answer_has_key) == ["feria"]

    class Service:  # what collect asks of the service: the question validated and deliberated
        def validate(self, text):
            return text

        def deliberate(self, text, k):
            units = [
                _candidate("La feria del orégano se realiza cada año en la región.", 1),
                _candidate("Organiza: Cámara de Comercio de Moquegua.", 1, "fact"),
            ]
            return Deliberation(_view(text), units, {}), []

    item = {"id": "feria", "question": question, "category": "responsible"}
    item.update(must_contain=keys, evidence=[])
    [example] = collect(Service(), [item], builtin_answer_has_key)
    assert example.labels.tolist() == [0.0, 1.0]


def test_the_supplement_is_learnt_from_in_every_fold_and_never_scored():
    examples, supplement = _examples(), _supplement()
    fold = folds_of(examples + supplement, 3)
    assert fold[: len(examples)] == folds_of(examples, 3) and set(fold[len(examples) :]) == {-1}
    seen: list[int] = []

    def fit(part):
        seen.append(sum(not e.scored for e in part))
        return fit_policy(part, inner_folds=3)

    report = cross_validate(examples + supplement, k=3, fit=fit)
    assert seen == [len(supplement)] * 3
    assert sorted(i.id for i in report.items) == sorted(e.item["id"] for e in examples)


def test_the_uncovered_supplement_teaches_the_abstention_classifier_only():
    price = _uncovered("maíz morado", scored=True)
    without = fit_policy(_examples(), inner_folds=3)
    assert not without.decide(price.delib).abstained  # it reads like a covered question
    supplement = [_uncovered(f"tema {i}") for i in range(12)]
    policy = fit_policy(_examples() + supplement, inner_folds=3)
    decision = policy.decide(price.delib)
    assert decision.abstained and not decision.out_of_scope
    assert not policy.decide(_responsible_example("maíz morado").delib).abstained
    assert policy.meta["uncovered"] == 12 and policy.meta["out_of_scope"] == 0
    # They are on the documents' subject: the scope classifier does not learn from them.
    off_topic = _examples() + _supplement()
    assert fit_scope(off_topic + supplement).to_dict() == fit_scope(off_topic).to_dict()


def test_the_answered_supplement_teaches_the_unit_scorer_and_is_never_scored():
    new = _target_example("maíz morado")
    without = fit_policy(_examples(), inner_folds=3)
    # Only "who" questions so far: the sentence that repeats the question's words wins.
    assert without.decide(new.delib).quotes[0].startswith("Las toneladas")
    supplement = [_target_example(t, answered=True) for t in TOPICS]
    policy = fit_policy(_examples() + supplement, inner_folds=3)
    decision = policy.decide(new.delib)
    assert not decision.abstained and decision.quotes[0].startswith("Exportación de maíz morado")
    assert policy.meta["answered"] == len(TOPICS)
    report = cross_validate(_examples() + supplement, k=3)
    assert not any(i.id.startswith("answered-") for i in report.items)


@pytest.mark.parametrize("path", [UNCOVERED_FILE, OUT_OF_SCOPE_FILE], ids=lambda p: p.stem)
def test_the_committed_question_supplements_read_as_unanswerable_gold_items(path):
    items = supplement_items(path)
    assert len(items) >= 50 and len({i["question"] for i in items}) == len(items)
    assert all(i["category"] == "unanswerable" and i["must_contain"] == [] for i in items)
    assert {i["supplement"] for i in items} == {path.stem} and not any(i["scored"] for i in items)


CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def test_the_answered_supplement_quotes_its_documents():
    """Every item's evidence is in its document(s) and every key in its evidence or document,
    as the gold files' checker (verify.py) requires."""
    items = supplement_items(ANSWERED_FILE)
    assert len(items) >= 100 and len({i["question"] for i in items}) == len(items)
    texts = {
        p.name: collapse_whitespace(p.read_text(encoding="utf-8"))
        for p in CORPUS.iterdir()
        if p.suffix in (".txt", ".md")
    }
    folded = {name: fold_accents(text) for name, text in texts.items()}
    for item in items:
        docs = item["doc"] if isinstance(item["doc"], list) else [item["doc"]]
        assert item["category"] != "unanswerable" and 1 <= len(item["must_contain"]) <= 3
        for snippet in item["evidence"]:
            assert any(collapse_whitespace(snippet) in texts[d] for d in docs), snippet
        for key in item["must_contain"]:
            assert any(fold_accents(key) in folded[d] for d in docs), key


GOLD = Path(__file__).resolve().parents[3] / "shared" / "eval"


def _gold() -> list[dict]:
    return [item for name in ("train.jsonl", "dev.jsonl") for item in load_gold(GOLD / name)]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", fold_accents(text)))


@pytest.mark.skipif(not (GOLD / "train.jsonl").is_file(), reason=f"no gold set at {GOLD}")
def test_the_supplement_is_no_paraphrase_of_a_gold_question():
    """The gold files' own test (verify.py --disjoint-with): token Jaccard below 0.6."""
    gold = [_words(item["question"]) for item in _gold()]
    for item in (i for path in SUPPLEMENTS for i in supplement_items(path)):
        words = _words(item["question"])
        closest = max(len(words & g) / len(words | g) for g in gold)
        assert closest < 0.6, item["question"]


@pytest.mark.skipif(not (GOLD / "train.jsonl").is_file(), reason=f"no gold set at {GOLD}")
def test_no_answered_supplement_item_is_about_a_gold_passage():
    """Cross-validation stays honest: no supplement question quotes what a gold one does (half
    or more of either snippet's word 5-grams in common)."""
    gold = [set(word_ngrams(snippet)) for item in _gold() for snippet in item["evidence"]]
    for item in supplement_items(ANSWERED_FILE):
        for snippet in (set(word_ngrams(s)) for s in item["evidence"]):
            shared = max(len(snippet & g) / min(len(snippet), len(g)) for g in gold)
            assert shared < 0.5, item["question"]


def test_a_unit_opening_with_the_tail_of_a_cut_sentence_is_quoted_from_its_next_one():
    view = _view("¿cuánto pueden destinar los gobiernos a procompite?")
    cut = (
        "estratégica y eficiente. La Ley de Procompite permite destinar hasta 10% de los "
        "recursos de inversión a planes de negocio."
    )
    units = [
        _candidate(cut, 1),
        # A list's first item ("a.") is not the tail of a sentence, nor a tail with little after it.
        _candidate("a. Tener información de las cadenas productivas priorizadas.", 2),
        _candidate("en la tabla N° 11. Pisco", 3),
    ]
    quotes = select_quotes(Deliberation(view, units, {}), np.asarray([0.9, 0.8, 0.7]), 0.1, 600)
    assert quotes == [
        "La Ley de Procompite permite destinar hasta 10% de los recursos de inversión a planes de "
        "negocio. [1]",
        "a. Tener información de las cadenas productivas priorizadas. [2]",
        "en la tabla N° 11. Pisco [3]",
    ]
