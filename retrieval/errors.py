"""Domain errors meant for users; their Spanish messages live in prompts/messages.toml."""

from prompts import message


class ExportaError(Exception):
    """An error whose message can be shown to an end user as is."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        super().__init__(message(key, **values))


class InvalidQuestion(ExportaError):
    """Empty or oversized question."""


class IndexMissing(ExportaError):
    """No document has been indexed yet."""


class ModelMismatch(ExportaError):
    """The index was built with another embedding model."""


class StoreUnavailable(ExportaError):
    """The vector store (embedded or server) cannot be reached."""


class ConfigurationError(ExportaError):
    """A configured component cannot be loaded."""


class DocumentRejected(ExportaError):
    """A file that cannot be indexed; the message says why, in Spanish."""


class PolicyMissing(ExportaError):
    """The trained answer policy is missing or was trained for other features."""
