"""The answering service every channel calls: `AnswerService.answer(question, history) -> Answer`."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any, Literal, NamedTuple

from prompts import message
from retrieval.candidates import UnitBook
from retrieval.contract import Answer, DocumentRecord, Facts, Source, Turn
from retrieval.embeddings import Embedder, build_embedder
from retrieval.errors import InvalidQuestion, PolicyMissing
from retrieval.features import QuestionView, extensions, figures_in, wants_share
from retrieval.glossary import Glossary
from retrieval.grounding import Guard
from retrieval.hybrid import HybridRetriever, Retrieved
from retrieval.llm import LlmComposer, LlmUnavailable
from retrieval.mentions import cover_documents, named_documents, named_sources
from retrieval.policy import POLICY_FILE, AnswerPolicy, Decision, Deliberation
from retrieval.query import QuestionType, classify, with_codes, years_in
from retrieval.settings import RetrievalSettings
from retrieval.snapshot import Snapshot, fingerprint, load_snapshot
from retrieval.store import ChunkStore
from retrieval.text import content_terms, first_terms, words

logger = logging.getLogger(__name__)

NAMED_DEPTH = 30  # how deep to look for the best passage of each document a question names
_ELLIPTICAL = re.compile(r"^\W*y\s", re.IGNORECASE)  # a follow-up: "¿y …?"
_MARKUP = re.compile(r"</?[a-zA-Z][^<>]{0,80}>")
FOLLOW_UP_MAX_TERMS = 3
# A question is read up to this many content words: BM25, spelling correction, the passages'
# units and the answer policy all cost in proportion to them, and the meaning is set long before
# (the longest gold question has 21). The embedder caps its own work (MAX_QUERY_TOKENS).
MAX_QUERY_TERMS = 64
# The turns of a conversation every channel keeps; a follow-up is read with the last one.
HISTORY_TURNS = 4
# A piece of a streamed quoted answer ends after a citation group ("… texto [2] "), or else
# after a sentence, so a citation [n] is never split between two events.
_PIECE = re.compile(r".*?\[\d+\](?:\s*\[\d+\])*\s*|.*?[.!?…](?:\s+|$)|.+", re.S)


class Event(NamedTuple):
    """A step of an answer being made: ("sources", [Source]), ("token", str), ("done", Answer)."""

    kind: Literal["sources", "token", "done"]
    data: Any


class AnswerService:
    """Validates the question, retrieves, decides whether to abstain and composes a cited answer."""

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        settings: RetrievalSettings,
        composer: LlmComposer | None = None,
        policy: AnswerPolicy | None = None,
        warm: bool = False,
    ) -> None:
        """`warm`: read each snapshot whole when it opens (a server), not question by question."""
        store.check_model(embedder.identity)
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self._composer = composer
        self._policy = policy or _committed_policy()
        self._warm = warm
        trained_with = (self._policy.meta if self._policy else {}).get("embedding_model")
        if trained_with and trained_with != embedder.identity:
            logger.warning(
                "The answer policy was trained with %s, not %s: run `exporta train`",
                trained_with,
                embedder.identity,
            )
        self._index = self._load(store.manifest(fresh=True))
        self._reload_lock = threading.Lock()
        self._checked_at = time.monotonic()

    def _load(self, manifest: dict[str, DocumentRecord]) -> Snapshot:
        return load_snapshot(self.store, self.embedder, self._policy, manifest, self._warm)

    # The current snapshot; a question reads it once, so a reload never mixes two index states.
    @property
    def retriever(self) -> HybridRetriever:
        return self._index.retriever

    @property
    def glossary(self) -> Glossary:
        return self._index.glossary

    @property
    def units(self) -> UnitBook:
        return self._index.units

    @property
    def policy(self) -> AnswerPolicy | None:
        return self._index.policy

    def refresh(self) -> bool:
        """Reload if the visible document versions changed (a re-index committed); True if so.

        The old snapshot keeps answering while the new one is built, then one assignment swaps them.
        """
        with self._reload_lock:
            self._checked_at = time.monotonic()
            manifest = self.store.manifest(fresh=True)
            if fingerprint(manifest) == self._index.fingerprint:
                return False
            self._index = self._load(manifest)
            return True

    def refresh_in_background(self) -> None:
        """At most every `reload_check_seconds`, reload in a thread if another process re-indexed."""
        every = self.settings.reload_check_seconds
        if not every or time.monotonic() - self._checked_at < every or self._reload_lock.locked():
            return
        self._checked_at = time.monotonic()
        threading.Thread(target=self._refresh_quietly, name="exporta-reload", daemon=True).start()

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:  # the old snapshot keeps answering; the next check tries again
            logger.exception("Reloading the index failed")

    @classmethod
    def from_settings(cls, settings: RetrievalSettings, warm: bool = False) -> AnswerService:
        """Open the configured store and embedding model (the composition root calls this)."""
        store = ChunkStore.open(settings)
        store.check_model(settings.embedding_model)  # fail fast, before loading the model
        embedder = build_embedder(settings, for_queries=True)
        return cls(store, embedder, settings, LlmComposer.from_settings(settings), warm=warm)

    def documents(self) -> list[DocumentRecord]:
        return sorted(self._index.manifest.values(), key=lambda r: r.doc_id)

    def validate(self, question: str) -> str:
        return validate_question(question, self.settings)

    @property
    def writes(self) -> bool:
        """Whether a language model writes the answers (they stream as it writes)."""
        return self._composer is not None

    def answer(
        self, question: str, history: Sequence[Turn] | None = None, k: int | None = None
    ) -> Answer:
        """A cited answer to the question, or an honest abstention with the nearest sources."""
        for event in self.answer_events(question, history, k):
            if event.kind == "done":
                return event.data
        raise AssertionError("answer_events ends with done")

    def answer_events(
        self, question: str, history: Sequence[Turn] | None = None, k: int | None = None
    ) -> Iterator[Event]:
        """The answer as it is made: `sources`, then `token` pieces of the text (grounded
        sentences as a model writes them, or the quotes), then `done` with the Answer."""
        started = time.perf_counter()
        question = self.validate(question)
        self.refresh_in_background()
        index = self._index
        history = list(history or [])
        if index.policy is None:
            raise PolicyMissing("errors.policy_missing", path=POLICY_FILE)
        # "👍", "¿?": no word to look up (nor to rewrite with the conversation); the reply says
        # what Exporta answers, as to a greeting.
        wordless = not words(question)
        query, delib, sources, no_topic = question, None, [], False
        if not wordless:
            query = self._standalone(question, history)
            delib, sources = self.deliberate(query, k, index)
            # "¿y en 2025?", "¿y quién lo provee?" with nothing before: no topic to answer.
            no_topic = all(t.isdigit() for t in delib.view.terms) or (
                not history and _ELLIPTICAL.match(question) is not None
            )
        retrieved_at = time.perf_counter()
        if wordless:
            decision = Decision(True, False, [], out_of_scope=True)
        elif no_topic:
            decision = Decision(True, False, [])
        else:
            note = len(message("answer.uncertain", answer=""))
            evidence_chars = self._composer.passage_chars if self._composer else 0
            decision = index.policy.decide(
                delib, self.settings.max_answer_chars, note, evidence_chars
            )
        if decision.out_of_scope or no_topic:  # a joke, "¿y en 2025?": no passage answers it
            sources = []
        yield Event("sources", sources)
        written_by, dropped, text = "quotes", 0, ""
        if not decision.abstained and self._composer is not None:
            guard = Guard(decision.evidence)
            try:
                for sentence in guard.sentences(
                    self._composer.stream(query, decision.evidence, sources)
                ):
                    yield Event("token", sentence)
            except LlmUnavailable as exc:
                logger.warning("LLM answer abandoned, best so far given: %s", exc)
            text, dropped = guard.text, len(guard.dropped)
            written_by = "llm" if text else "quotes"
        abstained = decision.abstained
        if not text and not abstained:
            text = " ".join(decision.quotes)
            if decision.uncertain:
                text = message("answer.uncertain", answer=text)
        if decision.out_of_scope:
            text = message("answer.out_of_scope")
        elif no_topic:
            text = message("answer.no_topic")
        elif not text:
            abstained, text = True, message("answer.abstain")
        if written_by == "quotes":
            for piece in answer_pieces(text):
                yield Event("token", piece)
        done = time.perf_counter()
        yield Event(
            "done",
            Answer(
                question=question,
                answer=text,
                abstained=abstained,
                sources=sources,
                timings_ms={
                    "retrieve": round((retrieved_at - started) * 1000, 2),
                    "answer": round((done - retrieved_at) * 1000, 2),
                    "total": round((done - started) * 1000, 2),
                },
                written_by=written_by,
                dropped_sentences=dropped,
            ),
        )

    def deliberate(
        self, query: str, k: int | None = None, index: Snapshot | None = None
    ) -> tuple[Deliberation, list[Source]]:
        """Retrieval and everything the answer policy decides from, for one question."""
        index = index or self._index
        query = first_terms(query, MAX_QUERY_TERMS)
        if self.settings.spelling_correction:
            query = index.retriever.correct(query)
        # Pasted HTML: its tag names say nothing about the topic.
        topic = with_codes(_MARKUP.sub(" ", query))
        k = k or self.settings.top_k
        acronyms = index.glossary.acronyms_in(topic)
        # An acronym typed alone asks what it is.
        bare = index.glossary.only_acronyms(topic, acronyms)
        kind = QuestionType.DEFINITION if bare else classify(topic)
        years = years_in(topic)
        # The dense model reads accents and capitals that a phone-typed question leaves out.
        vector = self.embedder.embed_query(index.retriever.as_written(topic))
        signals: dict[str, float] = {}
        named = named_documents(topic, index.names)
        ranked = self._retrieve(
            index, topic, k, named, years if kind is QuestionType.TARGET else [], vector, signals
        )
        glossary = self._glossary_chunks(index, topic) if kind is QuestionType.DEFINITION else []
        retrieved = self._with_glossary(glossary, ranked, k)
        sources = [_source(n, r, index.facts) for n, r in enumerate(retrieved, start=1)]
        weights = {t: index.retriever.term_weight(t) for t in set(content_terms(topic))}
        view = QuestionView(
            frozenset(weights),
            weights,
            kind,
            frozenset(years),
            wants_share(topic),
            vector,
            figures_in(topic),
            extensions(frozenset(weights), index.retriever.vocabulary),
        )
        signals["n_terms"] = math.log1p(len(view.terms))  # how much the question says
        delib = Deliberation(
            view,
            index.units.candidates(sources[: self.settings.top_k]),
            signals,
            index.glossary.definition_lines(topic, sources) if glossary else [],
            index.glossary.subjects(topic) if glossary else [],
            acronyms,
            {s.n for s in sources if s.chunk_id in index.glossary.chunk_ids},
            named_sources(named, sources),
        )
        return delib, sources

    def _retrieve(
        self,
        index: Snapshot,
        query: str,
        k: int,
        named: list[str],
        years: list[str],
        vector=None,
        signals: dict[str, float] | None = None,
    ) -> list[Retrieved]:
        """The best chunks, with the best passages of the documents the question names."""
        ranked = index.retriever.retrieve(query, max(k, NAMED_DEPTH), years, vector, signals)
        if len(named) >= 2:  # "según el estudio … y según la PNMCE": each named one is read
            ranked = cover_documents(ranked, named, min(k, self.settings.top_k))
        return ranked[:k]

    @staticmethod
    def continued(history: Sequence[Turn], answer: Answer) -> list[Turn]:
        """The conversation after `answer`, as every channel keeps it (its last turns)."""
        return [*history, Turn(question=answer.question, answer=answer.answer)][-HISTORY_TURNS:]

    def _standalone(self, question: str, history: Sequence[Turn]) -> str:
        """What to retrieve for: a follow-up rewritten by the model with its conversation, when
        a model writes; else an elliptical one ("¿y en 2025?") borrows the previous question's
        topic."""
        if not history:
            return question
        if self._composer is not None:
            try:
                return self._composer.condense(question, history) or question
            except LlmUnavailable as exc:
                logger.warning("Follow-up not rewritten by the LLM: %s", exc)
        if len(content_terms(question)) <= FOLLOW_UP_MAX_TERMS:
            return f"{history[-1].question} {question}"
        return question

    def _glossary_chunks(self, index: Snapshot, question: str) -> list[Retrieved]:
        """The acronym lists that expand the acronyms a definition question asks about."""
        first: dict[str, Retrieved] = {}
        for acronym in index.glossary.subjects(question):
            for entry in index.glossary.lookup(acronym):
                first.setdefault(entry.chunk_id, index.retriever.retrieved(entry.chunk_id))
        return list(first.values())

    @staticmethod
    def _with_glossary(
        glossary: list[Retrieved], ranked: list[Retrieved], k: int
    ) -> list[Retrieved]:
        """The glossary chunks cited first, then the ranked ones (no chunk twice)."""
        cited = {r.chunk.chunk_id for r in glossary}
        rest = [r for r in ranked if r.chunk.chunk_id not in cited]
        return [*glossary, *rest][: max(k, len(glossary))]


def _committed_policy() -> AnswerPolicy | None:
    """The trained policy; without one (before `exporta train`) the service deliberates only."""
    try:
        return AnswerPolicy.load()
    except PolicyMissing as exc:
        logger.error("%s", exc)
        return None


def validate_question(question: str, settings: RetrievalSettings) -> str:
    """The question with invisible characters dropped and whitespace collapsed; one with control
    characters or lone surrogates, an empty or an oversized one is refused in Spanish."""
    if any(_unreadable(c) for c in question):
        raise InvalidQuestion("errors.unreadable_characters")
    question = " ".join("".join(c for c in question if unicodedata.category(c) != "Cf").split())
    if not question:
        raise InvalidQuestion("errors.empty_question")
    limit = settings.max_question_chars
    if len(question) > limit:
        raise InvalidQuestion("errors.question_too_long", length=len(question), limit=limit)
    return question


def answer_pieces(text: str) -> list[str]:
    """The answer in the pieces it is streamed in; joined, they give back `text` exactly."""
    return _PIECE.findall(text)


def _unreadable(char: str) -> bool:
    """A control character other than tab and line breaks, or half of a UTF-16 pair."""
    category = unicodedata.category(char)
    return category == "Cs" or (category == "Cc" and char not in "\t\n\r")


def _source(n: int, retrieved: Retrieved, facts: dict[str, Facts]) -> Source:
    chunk = retrieved.chunk
    return Source(
        n=n,
        doc_id=chunk.doc_id,
        title=chunk.title,
        page=chunk.page,
        section=chunk.section,
        chunk_id=chunk.chunk_id,
        text=chunk.text,
        score=round(retrieved.score, 6),
        facts=facts.get(chunk.chunk_id),
    )
