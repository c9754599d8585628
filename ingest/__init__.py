"""Ingestion: load documents, clean PDF-extraction noise, chunk by structure, write to the index."""
