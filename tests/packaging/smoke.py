"""Run inside a clean virtualenv that holds only the built wheels and their dependencies
(no torch, no test extras): the integrations import and work end to end on a BM25 base."""

import asyncio
import importlib.util
import shutil
import tempfile

from langchain_rag_plugins import RagPluginsRetriever as LangChainRetriever
from langchain_rag_plugins import as_langchain_tools
from llama_index.postprocessor.rag_plugins import RagPluginsRerank
from llama_index.retrievers.rag_plugins import RagPluginsRetriever as LlamaIndexRetriever
from llama_index.retrievers.rag_plugins import as_llama_index_tools
from rag_plugins import Document, KnowledgeBase
from rag_plugins.tools import Toolkit, read_passages



class KeepOrder:
    name = "keep"

    def rerank(self, query, hits, top_n=None):
        return list(hits)[:top_n]


def main() -> None:
    assert importlib.util.find_spec("torch") is None  # BM25 bases and both integrations work without torch
    directory = tempfile.mkdtemp()
    with KnowledgeBase.open(directory) as kb:
        kb.upsert([Document("e1", "Error E4012 means the disk quota is exhausted."), Document("p", "Pears are fruit.")])
        kb.commit()
        docs = LangChainRetriever(retriever=kb.bm25_retriever(), k=1).invoke("E4012")
        assert docs[0].metadata["document_id"] == "e1", docs
        nodes = asyncio.run(LlamaIndexRetriever(kb.bm25_retriever(), similarity_top_k=2).aretrieve("E4012"))
        assert nodes[0].node.metadata["document_id"] == "e1", nodes
        toolkit = Toolkit.from_knowledge_base(kb)
        [lc_search, _] = as_langchain_tools(toolkit)
        reply = lc_search.invoke({"name": "search", "args": {"query": "E4012"}, "id": "c1", "type": "tool_call"})
        assert read_passages(reply.content)[0]["source"] == "e1#0", reply.content
        [li_search, _] = as_llama_index_tools(toolkit)
        assert read_passages(li_search.call(query="pears").content)[0]["source"] == "p#0"
        kept = RagPluginsRerank(KeepOrder(), top_n=1).postprocess_nodes(nodes, query_str="E4012")
        assert [n.node.metadata["document_id"] for n in kept] == ["e1"], kept
    shutil.rmtree(directory)
    print("wheels ok")


if __name__ == "__main__":
    main()
