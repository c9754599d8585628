"""Question understanding without an LLM: what kind of answer the question asks for."""

from __future__ import annotations

import re
from enum import StrEnum

from retrieval.text import content_terms, fold_accents

ELLIPTICAL_MAX_TERMS = 2  # a question part this short borrows the topic of what came before


class QuestionType(StrEnum):
    RESPONSIBLE = "responsable"  # who is responsible / who takes part
    DEFINITION = "definicion"  # what is X / what does X stand for
    TARGET = "meta"  # how much / which target, value or year
    REQUIREMENT = "requisito"  # what is required
    PROGRAM = "programa"  # which program, fund or service
    GENERAL = "general"


_PATTERNS: list[tuple[QuestionType, re.Pattern[str]]] = [
    (QuestionType.DEFINITION, re.compile(
        r"\b(que (es|son|significa|quiere decir)|significado|siglas|definicion|se define|"
        r"en que consiste)\b")),
    (QuestionType.RESPONSIBLE, re.compile(
        r"\b(quien(es)?|responsables?|se encarga|a cargo|que (entidad|direccion|institucion|"
        r"organismo|actores)|participan?|convoca|coordina|asiste|ejecuta|lidera)\b")),
    (QuestionType.TARGET, re.compile(
        r"\b(cuant[oa]s?|meta|metas|indicador|porcentaje|valor|cifra|monto|base|"
        r"cuando|que ano|al 20\d\d|en 20\d\d)\b|%")),
    (QuestionType.REQUIREMENT, re.compile(
        r"\b(requisitos?|exige|exigen|requiere|necesit\w*|norma\w*|debo|puedo|condiciones)\b")),
    (QuestionType.PROGRAM, re.compile(
        r"\b(programas?|fondos?|instrumentos?|servicios?|concursables?|financiamiento|"
        r"cofinanciamiento|apoyo)\b")),
]  # fmt: skip


def classify(question: str) -> QuestionType:
    """The first matching type, in priority order (definitions and 'who' win over amounts)."""
    folded = fold_accents(question)
    for kind, pattern in _PATTERNS:
        if pattern.search(folded):
            return kind
    return QuestionType.GENERAL


_YEAR = re.compile(r"\b(19|20)\d{2}\b")


def years_in(text: str) -> list[str]:
    return [m.group(0) for m in _YEAR.finditer(text)]


_SECOND_QUESTION = re.compile(
    r"\s+y\s+(?=(?:en\s+|a\s+|de\s+|con\s+|para\s+|por\s+)?(?:que|cuant[oa]s?|quien(?:es)?|"
    r"cual(?:es)?|donde|cuando|como)\b)"
)
_TOPIC = re.compile(r"^([^:¿?]{2,40}):\s*")


def split_question(question: str) -> list[str]:
    """A question in two parts ("¿cuántos meses … y cuántas entidades …?") as two questions,
    each keeping the topic the question opens with ("rpe: …", "INACAL: …")."""
    folded = fold_accents(question)
    match = _SECOND_QUESTION.search(folded)
    if not match:
        return [question]
    # fold_accents keeps the length of accent-free text only; cut the original at the same word.
    words_before = len(folded[: match.start()].split())
    words = question.split()
    first, second = " ".join(words[:words_before]), " ".join(words[words_before + 1 :])
    if len(content_terms(first)) < 2:
        return [question]  # "¿Cuándo y dónde …?": one question about two things
    topic = _TOPIC.match(question)
    if len(content_terms(second)) <= ELLIPTICAL_MAX_TERMS:
        second = f"{first} {second}"  # "… y cuánto crecieron?" is about what the first part names
    elif topic and not second.startswith(topic.group(0)):
        second = f"{topic.group(1)}: {second}"
    return [first, second]


_OBJECTIVE_WORDS = re.compile(r"\bobjetivo\s+prioritario\s+(?:n[°º.]?\s*)?(\d)\b", re.IGNORECASE)
_OBJECTIVE_CODE = re.compile(r"\bOP\s?(\d)\b")


def with_codes(question: str) -> str:
    """The question plus the other way the documents name an objective: "objetivo prioritario 4"
    is "OP4" in the tables, and "OP4" is "OBJETIVO PRIORITARIO 4" in the indicator cards."""
    extra = [f"OP{n}" for n in _OBJECTIVE_WORDS.findall(fold_accents(question))]
    extra += [f"objetivo prioritario {n}" for n in _OBJECTIVE_CODE.findall(question)]
    return " ".join([question, *extra])
