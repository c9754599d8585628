"""The hybrid retriever as a LangChain `BaseRetriever`, so it plugs into LangChain chains."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retrieval.hybrid import HybridRetriever


class ExportaRetriever(BaseRetriever):
    """Dense + BM25 retrieval over the Exporta index; one Document per chunk, best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: HybridRetriever
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                id=r.chunk.chunk_id,
                page_content=r.chunk.text,
                metadata={**r.chunk.metadata(), "chunk_id": r.chunk.chunk_id, "score": r.score},
            )
            for r in self.retriever.retrieve(query, self.k)
        ]
