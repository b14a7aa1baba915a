"""A LlamaIndex ``BaseReader`` over rag-plugins' loaders, and a sync from any reader's Documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document

from rag_plugins.chunking import StructureAwareChunker
from rag_plugins.errors import InvalidInputError
from rag_plugins.loaders import SkippedPath, load_sources
from rag_plugins.types import Document as CoreDocument

_SEMANTIC = ("title", "heading_path")  # what embeddings and prompts see of the metadata


class RagPluginsReader(BaseReader):
    """PDF, HTML, Word, code, chat exports, Markdown, text and JSONL files as LlamaIndex
    Documents, with each format's structure kept.

    ``mode="documents"`` (default) gives one Document per file (per thread for chat
    exports); ``mode="chunks"`` splits them as a rag-plugins base would, at headings, code
    definitions and pages, with ``heading_path`` and the locators (``page_start`` /
    ``page_end``, ``line_start`` / ``line_end``, ``anchor``) in metadata. Only the title and
    heading path reach embeddings and prompts. Files that cannot be read are skipped and
    listed in :attr:`skipped`.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "guide.md").write_text("# Guide\\n\\n## Deploys\\n\\nDeploys run nightly.")
    >>> [(d.text, d.metadata["heading_path"]) for d in RagPluginsReader(mode="chunks").load_data([folder])]
    [('Deploys run nightly.', ['Guide', 'Deploys'])]
    """

    def __init__(self, *, mode: str = "documents", chunk_size: int = 256, include: Sequence[str] = (),
                 exclude: Sequence[str] = (), gitignore: bool = True, follow_symlinks: bool = False):
        if mode not in ("documents", "chunks"):
            raise InvalidInputError(f"mode is 'documents' or 'chunks', got {mode!r}")
        self.mode = mode
        self.chunker = StructureAwareChunker(chunk_size) if mode == "chunks" else None
        self.options = {"include": include, "exclude": exclude, "gitignore": gitignore,
                        "follow_symlinks": follow_symlinks}
        self.skipped: list[SkippedPath] = []

    def lazy_load_data(self, paths: Sequence[str | Path], **load_kwargs: Any) -> Iterator[Document]:
        self.skipped = []
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        for document in load_sources(paths, skipped=self.skipped, **self.options):
            if self.chunker is None:
                yield _document(document.id, document.text, dict(document.metadata))
                continue
            for chunk in self.chunker.split(document):
                yield _document(chunk.id, chunk.text, {**chunk.metadata, "document_id": chunk.document_id})


def _document(doc_id: str, text: str, metadata: dict[str, Any]) -> Document:
    hidden = [k for k in metadata if k not in _SEMANTIC]
    return Document(id_=doc_id, text=text, metadata=metadata, excluded_embed_metadata_keys=hidden,
                    excluded_llm_metadata_keys=hidden)


def sync_llama_index_documents(kb: Any, documents: Iterable[Any], source: str, *, prune: bool = True) -> Any:
    """Bring ``kb`` in line with what a LlamaIndex reader gives now (``source`` names it):
    one commit, changed documents re-indexed, and with ``prune`` those it no longer gives
    deleted (:meth:`rag_plugins.KnowledgeBase.sync_documents`). A Document's id is its
    ``doc_id`` (readers such as ``SimpleDirectoryReader(filename_as_id=True)`` make it stable)."""
    converted = [CoreDocument(str(doc.doc_id), doc.text,
                              {k: v for k, v in doc.metadata.items() if k not in ("heading_path", "char_start",
                                                                                   "char_end")})
                 for doc in documents]
    return kb.sync_documents(converted, source, prune=prune)
