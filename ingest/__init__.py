"""Ingestion: load documents, clean PDF-extraction noise, chunk by structure, write to the index.

The channels and staff jobs use only what is exported here: `IndexService` and its types.
"""

from ingest.catalog import DocumentInfo
from ingest.pipeline import IngestReport
from ingest.service import Hooks, Incoming, IndexService

__all__ = ["DocumentInfo", "Hooks", "Incoming", "IndexService", "IngestReport"]
