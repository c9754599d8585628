"""Retrieval owns the index (Chroma + BM25), the embedding provider and the answering service."""
