"""A LangChain ``BaseLoader`` over rag-plugins' loaders, and a sync from any loader's Documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document

from rag_plugins.chunking import StructureAwareChunker
from rag_plugins.errors import InvalidInputError
from rag_plugins.loaders import SkippedPath, load_sources
from rag_plugins.types import Document as CoreDocument


class RagPluginsLoader(BaseLoader):
    """PDF, HTML, Word, code, chat exports, Markdown, text and JSONL files as LangChain
    Documents, with each format's structure kept.

    ``mode="documents"`` (default) gives one Document per file (per thread for chat
    exports); ``mode="chunks"`` splits them as a rag-plugins base would: at headings, code
    definitions and pages, with ``heading_path`` and the locators (``page_start`` /
    ``page_end``, ``line_start`` / ``line_end``, ``anchor``) in metadata. Files that cannot
    be read are skipped and listed in :attr:`skipped` (path, reason).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "guide.md").write_text("# Guide\\n\\n## Deploys\\n\\nDeploys run nightly.")
    >>> [(d.page_content, d.metadata["heading_path"]) for d in RagPluginsLoader([folder], mode="chunks").load()]
    [('Deploys run nightly.', ['Guide', 'Deploys'])]
    """

    def __init__(self, paths: Sequence[str | Path], *, mode: str = "documents", chunk_size: int = 256,
                 include: Sequence[str] = (), exclude: Sequence[str] = (), gitignore: bool = True,
                 follow_symlinks: bool = False):
        if mode not in ("documents", "chunks"):
            raise InvalidInputError(f"mode is 'documents' or 'chunks', got {mode!r}")
        self.paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        self.mode = mode
        self.chunker = StructureAwareChunker(chunk_size) if mode == "chunks" else None
        self.options = {"include": include, "exclude": exclude, "gitignore": gitignore,
                        "follow_symlinks": follow_symlinks}
        self.skipped: list[SkippedPath] = []

    def lazy_load(self) -> Iterator[Document]:
        self.skipped = []
        for document in load_sources(self.paths, skipped=self.skipped, **self.options):
            if self.chunker is None:
                yield Document(page_content=document.text, metadata=dict(document.metadata), id=document.id)
                continue
            for chunk in self.chunker.split(document):
                yield Document(page_content=chunk.text, id=chunk.id,
                               metadata={**chunk.metadata, "document_id": chunk.document_id})


def sync_langchain_documents(kb: Any, documents: Iterable[Document], source: str, *, prune: bool = True) -> Any:
    """Bring ``kb`` in line with what a LangChain loader gives now (``source`` names it):
    one commit, changed documents re-indexed, and with ``prune`` those it no longer gives
    deleted (:meth:`rag_plugins.KnowledgeBase.sync_documents`). A Document's id is its
    ``id``, else its ``metadata["source"]`` (with ``#page`` when the loader splits pages)."""
    converted = []
    for i, doc in enumerate(documents):
        doc_id = doc.id or _source_id(doc.metadata) or f"{source}#{i}"
        metadata = {k: v for k, v in doc.metadata.items() if k not in ("heading_path", "char_start", "char_end")}
        converted.append(CoreDocument(str(doc_id), doc.page_content, metadata))
    return kb.sync_documents(converted, source, prune=prune)


def _source_id(metadata: dict) -> str | None:
    source = metadata.get("source")
    if not isinstance(source, str) or not source:
        return None
    page = metadata.get("page")
    return f"{source}#{page}" if page is not None else source
