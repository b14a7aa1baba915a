"""RagPluginsReader as a LlamaIndex BaseReader, and a base kept in step with a real reader's output."""

from pathlib import Path

from llama_index.core import SimpleDirectoryReader
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import MetadataMode

from llama_index.retrievers.rag_plugins import RagPluginsReader, sync_llama_index_documents
from rag_plugins import KnowledgeBase


def test_chunks_keep_structure_and_hide_locators_from_embeddings(tmp_path):
    (tmp_path / "guide.md").write_text("# Guide\n\n## Deploys\n\nDeploys run nightly.\n")
    (tmp_path / "util.py").write_text("class Maths:\n    def double(self, x):\n        return 2 * x\n")
    reader = RagPluginsReader(mode="chunks")
    assert isinstance(reader, BaseReader)
    docs = {Path(d.metadata["source"]).name: d for d in reader.load_data([tmp_path])}
    assert docs["util.py"].metadata["heading_path"] == ["class Maths"]
    assert (docs["util.py"].metadata["line_start"], docs["util.py"].metadata["line_end"]) == (1, 3)
    embedded = docs["guide.md"].get_content(metadata_mode=MetadataMode.EMBED)
    assert "Guide" in embedded and "char_start" not in embedded and "source" not in embedded


def test_a_base_follows_simple_directory_reader(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.txt").write_text("Apples are red.")
    (root / "b.txt").write_text("Bananas are yellow.")
    kb = KnowledgeBase.open(tmp_path / "kb", show_progress=False)
    read = lambda: SimpleDirectoryReader(str(root), filename_as_id=True).load_data()  # noqa: E731
    assert len(sync_llama_index_documents(kb, read(), source="notes").added) == 2
    (root / "a.txt").write_text("Apples are green.")
    (root / "b.txt").unlink()
    report = sync_llama_index_documents(kb, read(), source="notes")
    assert (len(report.updated), len(report.removed), len(kb)) == (1, 1, 1)
    again = sync_llama_index_documents(kb, read(), source="notes")
    assert (len(again.unchanged), again.updated, again.generation) == (1, [], report.generation)
