"""Iterative retrieval for LlamaIndex: LLMs as generators, the pipelines as a query engine
whose response's source nodes hold every iteration's hits, each step as an
instrumentation event, and an agent tool."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from llama_index.core.base.llms.types import ChatMessage, LogProb
from llama_index.core.base.response.schema import Response
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms import LLM
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore
from llama_index.core.tools import FunctionTool
from llama_index.retrievers.rag_plugins.base import hit_to_node
from llama_index.retrievers.rag_plugins.tools import llama_index_tool
from pydantic import ConfigDict, field_validator

from rag_plugins.errors import InvalidTypeError
from rag_plugins.filter_policy import FilterPolicy
from rag_plugins.generation.base import Generation, GenerationRequest, TokenLogprob
from rag_plugins.iterative.pipeline import IterativePipeline
from rag_plugins.iterative.trace import IterativeResult, Step
from rag_plugins.tools import TOOL_DESCRIPTION, TOOL_NAME, ResearchTool

dispatcher = get_dispatcher(__name__)


class IterationStepEvent(BaseEvent):
    """Emitted for every step of an :class:`IterativeQueryEngine` run: a retrieval (its
    query and the chunk ids found) or a generation (its text)."""

    question: str
    step: Dict[str, Any]

    @classmethod
    def class_name(cls) -> str:
        return "IterationStepEvent"


class AnswerProvenanceEvent(BaseEvent):
    """Emitted when an :class:`IterativeQueryEngine` answers: which memory sourced the
    answer (``retrieval``, ``parametric`` when the adaptive gate skipped retrieval, ``none``
    when it abstained), the retriever and indexes, the chunks and the generations read."""

    question: str
    provenance: Dict[str, Any]

    @classmethod
    def class_name(cls) -> str:
        return "AnswerProvenanceEvent"


def logprobs_from_response(logprobs: Optional[List[List[LogProb]]]) -> tuple[TokenLogprob, ...] | None:
    """LlamaIndex reports, per generated position, a list of candidate tokens; the chosen
    token is taken to be the most likely one (exact under greedy decoding)."""
    if not logprobs:
        return None
    out = []
    for position in logprobs:
        if not position:
            return None
        best = max(position, key=lambda p: p.logprob)
        out.append(TokenLogprob(best.token, float(best.logprob)))
    return tuple(out)


class LlamaIndexGenerator:
    """A LlamaIndex LLM as a :class:`~rag_plugins.generation.Generator`: chat models get
    system + user messages (``chat``/``achat``), completion models one prompt
    (``complete``/``acomplete``). Token log-probabilities pass through when the LLM
    reports them (e.g. ``OpenAI(..., logprobs=True)``).

    >>> from llama_index.core.llms import MockLLM
    >>> from rag_plugins.generation import GenerationRequest
    >>> LlamaIndexGenerator(MockLLM()).generate(GenerationRequest("Capital of France?")).text.endswith("Answer:")
    True
    """

    def __init__(self, llm: LLM, name: str | None = None):
        if not hasattr(llm, "complete"):
            raise InvalidTypeError(f"expected a LlamaIndex LLM (with complete/acomplete), got {type(llm).__name__}")
        self.llm = llm
        self.name = name or str(getattr(llm.metadata, "model_name", None) or type(llm).__name__)

    @property
    def chat(self) -> bool:
        return bool(getattr(self.llm.metadata, "is_chat_model", False))

    @staticmethod
    def _messages(request: GenerationRequest) -> list[ChatMessage]:
        return [ChatMessage(role=role, content=text) for role, text in request.messages()]

    def generate(self, request: GenerationRequest) -> Generation:
        if self.chat:
            response = self.llm.chat(self._messages(request))
            return Generation(response.message.content or "", logprobs_from_response(response.logprobs))
        response = self.llm.complete(request.prompt())
        return Generation(response.text, logprobs_from_response(response.logprobs))

    async def agenerate(self, request: GenerationRequest) -> Generation:
        if self.chat:
            response = await self.llm.achat(self._messages(request))
            return Generation(response.message.content or "", logprobs_from_response(response.logprobs))
        response = await self.llm.acomplete(request.prompt())
        return Generation(response.text, logprobs_from_response(response.logprobs))


def result_to_response(result: IterativeResult) -> Response:
    """Source nodes: the hits of every retrieval step, in order, each tagged with its
    ``iteration`` (step index) and ``iteration_query``; an abstention's notice instead when
    it abstained. Metadata: the queries, the trace, the path and why it stopped."""
    nodes: list[NodeWithScore] = []
    for index, (step, hits) in enumerate(result.hits_by_step()):
        query = result.steps[step].query
        nodes.extend(hit_to_node(h, {"iteration": index, "iteration_query": query}) for h in hits)
    metadata = {"queries": result.queries, "stop_reason": result.stop_reason, "path": result.path,
                "abstained": result.abstained, "confidence": result.confidence,
                "merged_chunk_ids": [h.chunk.id for h in result.hits],
                "steps": [s.to_dict() for s in result.steps],
                "provenance": result.provenance.to_dict() if result.provenance is not None else None}
    return Response(response=result.answer, source_nodes=nodes, metadata=metadata)


class IterativeQueryEngine(CustomQueryEngine):
    """An iterative pipeline (:class:`~rag_plugins.iterative.IterRetGen`,
    :class:`~rag_plugins.iterative.FlareRetrieval`, :class:`~rag_plugins.iterative.AdaptiveRetrieval`)
    as a LlamaIndex query engine. ``query``/``aquery`` return a ``Response`` whose
    ``source_nodes`` hold the hits of every iteration (:func:`result_to_response`); each
    step is dispatched as an :class:`IterationStepEvent`. Every search runs under
    ``pinned_filters``.

    >>> engine = IterativeQueryEngine(pipeline=IterRetGen(kb.hybrid_retriever(),  # doctest: +SKIP
    ...                                                   LlamaIndexGenerator(llm), iterations=2))
    >>> response = engine.query("Which office did the star of Kiss and Tell hold?")  # doctest: +SKIP
    >>> {n.metadata["iteration"] for n in response.source_nodes}  # doctest: +SKIP
    {0, 1}
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    pipeline: Any
    pinned_filters: Optional[Dict[str, Any]] = None

    @field_validator("pinned_filters")
    @classmethod
    def _check_pinned(cls, value: Optional[Dict[str, Any]]) -> Any:
        return FilterPolicy(value).pinned

    def custom_query(self, query_str: str) -> Response:
        result = None
        for event in self.pipeline.stream(query_str, filters=self.pinned_filters):
            result = self._observe(query_str, event)
        return result_to_response(result)

    async def acustom_query(self, query_str: str) -> Response:
        result = None
        async for event in self.pipeline.astream(query_str, filters=self.pinned_filters):
            result = self._observe(query_str, event)
        return result_to_response(result)

    @staticmethod
    def _observe(question: str, event: Any) -> Any:
        if isinstance(event, Step):
            dispatcher.event(IterationStepEvent(question=question, step=event.to_dict()))
        elif isinstance(event, IterativeResult) and event.provenance is not None:
            dispatcher.event(AnswerProvenanceEvent(question=question, provenance=event.provenance.to_dict()))
        return event


def iterative_tool(pipeline: IterativePipeline, name: str = TOOL_NAME, description: str = TOOL_DESCRIPTION,
                   max_passages: int = 8, pinned_filters: Dict[str, Any] | None = None) -> FunctionTool:
    """The pipeline as a ``FunctionTool`` taking the question: the model reads the draft
    answer, the searches and the passages (as untrusted data); ``raw_output`` holds the
    merged nodes. For a ``QueryEngineTool`` instead, wrap ``IterativeQueryEngine(pipeline)``
    with :func:`~llama_index.retrievers.rag_plugins.tools.query_engine_tool`. Every search
    runs under ``pinned_filters``."""
    return llama_index_tool(ResearchTool(pipeline, name, description, k=max_passages, pinned_filters=pinned_filters))


__all__: Sequence[str] = ["IterationStepEvent", "IterativeQueryEngine", "LlamaIndexGenerator", "iterative_tool",
                          "logprobs_from_response", "result_to_response"]
