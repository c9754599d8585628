"""Documents a question names, read off the catalog's own titles and kinds."""

from retrieval.contract import Chunk, DocumentRecord
from retrieval.hybrid import Retrieved
from retrieval.mentions import cover_documents, document_names, named_documents


def record(doc_id: str, title: str, kind: str) -> DocumentRecord:
    return DocumentRecord(doc_id, title, kind, None, None, f"{doc_id}.txt", "h", 1, "t")


def chunk(doc_id: str, text: str, n: int = 0) -> Chunk:
    return Chunk(
        chunk_id=f"{doc_id}-{n}", doc_id=doc_id, text=text, title=doc_id, kind="x", year=None,
        region=None, page=None, page_label=None, section=None, doc_version="v", ordinal=n,
    )  # fmt: skip


RECORDS = [
    record("plan-cafe", "Plan Regional de Café de Junín (PRC)", "plan"),
    record("estudio-cacao", "Estudio del cacao amazónico", "estudio"),
    record("politica", "Política Nacional de Comercio (PNC)", "politica"),
]
CHUNKS = [
    chunk("plan-cafe", "El café de Junín se exporta a Europa; la región promueve el comercio."),
    chunk("estudio-cacao", "El cacao amazónico crece en la región; su comercio crece."),
    chunk("politica", "La política de comercio exterior promueve la región."),
    *(chunk("politica", f"El comercio exterior de la región crece {i}.", i) for i in range(1, 30)),
]


def test_documents_are_named_by_kind_acronym_and_their_own_rare_title_words():
    names = document_names(RECORDS, CHUNKS)
    assert named_documents("segun el estudio y la PNC, cuanto crece?", names) == [
        "estudio-cacao",
        "politica",
    ]
    assert named_documents("que dice el PRC sobre el cafe?", names) == ["plan-cafe"]
    # "comercio" and "región" are in every document: they name none.
    assert named_documents("como crece el comercio de la region?", names) == []


def test_each_named_document_gets_its_best_passage_among_the_first_k():
    ranked = [Retrieved(c, 1.0 / (i + 1)) for i, c in enumerate(CHUNKS[2:8] + CHUNKS[:2])]
    top = cover_documents(ranked, ["estudio-cacao", "politica"], 3)
    assert {r.chunk.doc_id for r in top[:3]} == {"estudio-cacao", "politica"}
    assert len(top) == len(ranked) and top[0] is ranked[0]


def test_named_documents_share_the_first_places_in_turn():
    """A question about two documents reads the two best passages of each, not three of the one
    that ranks higher and one of the other."""
    passages = [chunk("plan-cafe", f"Café {i}.", i) for i in range(3)]
    passages += [chunk("politica", f"Comercio {i}.", i) for i in range(2)]
    passages += [chunk("estudio-cacao", "Cacao.")]
    ranked = [Retrieved(c, 1.0 / (i + 1)) for i, c in enumerate(passages)]
    top = cover_documents(ranked, ["plan-cafe", "politica"], 4)
    assert [r.chunk.chunk_id for r in top] == [
        "plan-cafe-0", "plan-cafe-1", "politica-0", "politica-1", "plan-cafe-2", "estudio-cacao-0",
    ]  # fmt: skip
