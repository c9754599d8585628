"""Refusals of staff requests, with their Spanish messages in prompts/messages.toml."""

from retrieval.errors import ExportaError


class JobBusy(ExportaError):
    """Another re-index job is running; `.job_id` is its id."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__("admin.job_busy", job_id=job_id)


class DocumentNotFound(ExportaError):
    """No indexed document has this id; `.doc_id` is it."""

    def __init__(self, doc_id: str) -> None:
        self.doc_id = doc_id
        super().__init__("admin.document_not_found", doc_id=doc_id)
