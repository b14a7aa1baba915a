"""RagPluginsLoader as a LangChain BaseLoader, and a base kept in step with a loader's output."""

from pathlib import Path

from langchain_core.document_loaders import BaseLoader

from langchain_rag_plugins import RagPluginsLoader, sync_langchain_documents
from rag_plugins import KnowledgeBase

PAGE = ('<html><head><title>Ops</title></head><body><nav>Home</nav><main><h1 id="ops">Ops</h1>'
        '<h2 id="keys">Keys</h2><p>Signing keys rotate every 90 days.</p></main></body></html>')


def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "ops.html").write_text(PAGE)
    (root / "util.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "broken.docx").write_bytes(b"not a zip")
    return root


def test_chunks_keep_structure_and_locators(tmp_path):
    loader = RagPluginsLoader([folder(tmp_path)], mode="chunks")
    assert isinstance(loader, BaseLoader)
    docs = {Path(d.metadata["source"]).name: d for d in loader.lazy_load()}
    assert docs["ops.html"].page_content == "Signing keys rotate every 90 days."
    assert (docs["ops.html"].metadata["heading_path"], docs["ops.html"].metadata["anchor"]) == (["Ops", "Keys"], "keys")
    assert (docs["util.py"].metadata["heading_path"], docs["util.py"].metadata["line_start"]) == (["def double(x)"], 1)
    assert docs["util.py"].id.endswith("util.py#0")
    assert [(s.path.name, s.kind) for s in loader.skipped] == [("broken.docx", "unreadable")]


def test_a_base_follows_a_loader(tmp_path):
    root = folder(tmp_path)
    kb = KnowledgeBase.open(tmp_path / "kb", show_progress=False)
    first = sync_langchain_documents(kb, RagPluginsLoader([root]).load(), source="docs")
    assert len(first.added) == 2 and first.generation == 1
    (root / "util.py").write_text("def triple(x):\n    return 3 * x\n")
    (root / "ops.html").unlink()
    second = sync_langchain_documents(kb, RagPluginsLoader([root]).lazy_load(), source="docs")
    assert (len(second.updated), len(second.removed)) == (1, 1)
    [hit] = kb.bm25_retriever().retrieve("triple", k=1)
    assert hit.chunk.heading_path == ["def triple(x)"]
