"""Question understanding without an LLM: what kind of answer the question asks for."""

from __future__ import annotations

import re
from enum import StrEnum

from retrieval.text import fold_accents


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


_OBJECTIVE_WORDS = re.compile(r"\bobjetivo\s+prioritario\s+(?:n[°º.]?\s*)?(\d)\b", re.IGNORECASE)
_OBJECTIVE_CODE = re.compile(r"\bOP\s?(\d)\b")


def with_codes(question: str) -> str:
    """The question plus the other way the documents name an objective: "objetivo prioritario 4"
    is "OP4" in the tables, and "OP4" is "OBJETIVO PRIORITARIO 4" in the indicator cards."""
    extra = [f"OP{n}" for n in _OBJECTIVE_WORDS.findall(fold_accents(question))]
    extra += [f"objetivo prioritario {n}" for n in _OBJECTIVE_CODE.findall(question)]
    return " ".join([question, *extra])
