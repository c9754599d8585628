from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from retrieval.langchain_adapter import ExportaRetriever


def test_retriever_plugs_into_a_langchain_chain(service):
    retriever = ExportaRetriever(retriever=service.retriever, k=3)
    chain = retriever | RunnableLambda(lambda docs: [d.metadata["doc_id"] for d in docs])

    docs = retriever.invoke("que significa APPIM")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    assert "Asociación de Productores de Pisco de Moquegua" in docs[0].page_content
    assert docs[0].metadata["chunk_id"] == docs[0].id
    assert docs[0].metadata["score"] >= docs[-1].metadata["score"]
    assert chain.invoke("que significa APPIM")[0] == "plan-regional-demo"
