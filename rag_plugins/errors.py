"""One exception family for rag-plugins.

Every error subclasses :class:`RagPluginsError` and, where it fits, the matching
built-in (``ValueError``, ``KeyError``, ``ImportError``), so callers can catch either.
Messages say what went wrong *and* what to do about it.
"""

from __future__ import annotations


class RagPluginsError(Exception):
    """Base class of every error raised by rag-plugins."""


class InvalidInputError(RagPluginsError, ValueError):
    """An argument is malformed: an empty query, k <= 0, non-string text, bad ids."""


class InvalidTypeError(InvalidInputError, TypeError):
    """An argument is of the wrong type (a number where text belongs, an object that is not a model)."""


class NotImplementedByError(RagPluginsError, NotImplementedError):
    """A subclass left out a method it must implement (the message names it)."""


class InvalidQueryError(InvalidInputError):
    """The query is empty, whitespace only, or not a string."""


class InvalidDocumentError(InvalidInputError):
    """A document has a bad id, non-string text or non-JSON metadata."""


class DuplicateIdError(InvalidInputError):
    """The same document id appears more than once in one batch."""


class DocumentNotFoundError(RagPluginsError, KeyError):
    """A document id that is not in the knowledge base."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class InvalidFilterError(InvalidInputError):
    """A metadata filter is malformed (unknown operator, wrong value type)."""


class UnknownFilterFieldError(InvalidFilterError):
    """A metadata filter names a field that no chunk in the index has (``field``)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class MissingIndexError(InvalidInputError):
    """The knowledge base has no index of the kind a retriever needs (no vectors, no graph)."""


class EmptyIndexError(RagPluginsError, ValueError):
    """Retrieval was asked of an index holding no chunks."""


class InvalidEmbeddingError(RagPluginsError, ValueError):
    """An embedder returned NaN or infinite values, or the wrong shape."""


class EmbeddingModelMismatchError(RagPluginsError, ValueError):
    """An index is opened or queried with a different embedding model than built it."""


class IndexCorruptedError(RagPluginsError):
    """An index file is missing, truncated, or does not match its recorded checksum."""


class UnsupportedFormatVersionError(RagPluginsError):
    """A knowledge-base directory was written by a newer format version."""


class KnowledgeBaseLockedError(RagPluginsError):
    """Another process holds the knowledge base open for writing."""


class MissingDependencyError(RagPluginsError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class ModelLoadError(RagPluginsError, OSError):
    """A model id or path could not be loaded (missing files, no network, wrong kind of model)."""


class CalibrationError(RagPluginsError, ValueError):
    """A confidence calibrator cannot be fitted or loaded (too little data, one class, bad file)."""


class ExtractionError(InvalidInputError):
    """A knowledge-graph extractor's answer is unusable (e.g. a language model's output is
    not a list of (subject, relation, object) triples)."""


class ToolCallError(InvalidInputError):
    """An agent's tool call names no known tool or has arguments the tool's schema refuses."""


class UnsafeFileError(RagPluginsError):
    """A file would be kept in a format that can run code when loaded (pickle); refused."""


class ReadOnlyKnowledgeBaseError(RagPluginsError):
    """A knowledge base opened with ``read_only=True`` was asked to change."""


class RetrievalLogError(RagPluginsError, OSError):
    """A retrieval log cannot be opened or written (no permission, another format version)."""


class RegressionGateError(RagPluginsError):
    """A regression gate refused a generation (a commit, a re-index switch): retrieval on
    the golden queries fell below the baseline. ``verdict`` holds the
    :class:`~rag_plugins.ops.gate.GateVerdict` with the queries that got worse."""

    def __init__(self, message: str, verdict: object = None):
        super().__init__(message)
        self.verdict = verdict
