"""Iterative retrieval for LangChain: chat models and Runnables as generators, any
LangChain retriever as the retriever, and the pipelines as a Runnable and an agent tool."""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator, Mapping

from langchain_core.callbacks import adispatch_custom_event, dispatch_custom_event
from langchain_core.messages import BaseMessage
from langchain_core.retrievers import BaseRetriever as LangChainBaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config
from langchain_core.tools import StructuredTool

from langchain_rag_plugins.convert import documents_to_hits, hit_to_document
from langchain_rag_plugins.tools import langchain_tool
from rag_plugins.errors import InvalidInputError, InvalidTypeError
from rag_plugins.filter_policy import FilterPolicy
from rag_plugins.generation.base import (
    Generation,
    GenerationRequest,
    TokenLogprob,
    as_generation,
)
from rag_plugins.iterative.pipeline import IterativePipeline
from rag_plugins.iterative.trace import IterativeResult, Step
from rag_plugins.protocols import Filters
from rag_plugins.retrievers.base import BaseRetriever
from rag_plugins.tools import TOOL_DESCRIPTION, TOOL_NAME, ResearchTool
from rag_plugins.types import Hit

STEP_EVENT = "rag_plugins_step"
PROVENANCE_EVENT = "rag_plugins_provenance"
INPUTS = ("messages", "text", "dict")


def logprobs_from_message(message: Any) -> tuple[TokenLogprob, ...] | None:
    """Token log-probabilities from a chat message's ``response_metadata["logprobs"]``: the
    OpenAI shape (``{"content": [{"token", "logprob"}, ...]}``) or a bare list of those."""
    meta = getattr(message, "response_metadata", None) or {}
    raw = meta.get("logprobs")
    if isinstance(raw, Mapping):
        raw = raw.get("content")
    if not raw:
        return None
    out = []
    for item in raw:
        token = item.get("token") if isinstance(item, Mapping) else getattr(item, "token", None)
        logprob = item.get("logprob") if isinstance(item, Mapping) else getattr(item, "logprob", None)
        if token is None or logprob is None:
            return None
        out.append(TokenLogprob(str(token), float(logprob)))
    return tuple(out)


class LangChainGenerator:
    """A LangChain chat model or any Runnable as a :class:`~rag_plugins.generation.Generator`.

    ``input`` says what the runnable is given: ``messages`` (system + user, for chat
    models), ``text`` (one prompt string) or ``dict`` (``question``, ``context``,
    ``answer_so_far``, ``task`` and ``prompt``: for your own ``ChatPromptTemplate | model``
    chain). The output may be a message, a string or a mapping with ``text``. Token
    log-probabilities are read from the message's ``response_metadata["logprobs"]`` (ask
    the model for them, e.g. ``ChatOpenAI(model=..., logprobs=True)``); they drive FLARE's
    trigger and the adaptive gate.

    >>> from langchain_core.language_models import FakeListChatModel
    >>> from rag_plugins.generation import GenerationRequest
    >>> LangChainGenerator(FakeListChatModel(responses=["Paris"])).generate(GenerationRequest("Capital of France?")).text
    'Paris'
    """

    def __init__(self, runnable: Runnable, input: str = "messages", name: str | None = None):
        if input not in INPUTS:
            raise InvalidInputError(f"input must be one of {INPUTS}, got {input!r}")
        if not hasattr(runnable, "invoke"):
            raise InvalidTypeError(f"expected a LangChain Runnable or chat model, got {type(runnable).__name__}")
        self.runnable = runnable
        self.input = input
        self.name = name or getattr(runnable, "model_name", None) or type(runnable).__name__

    def _input(self, request: GenerationRequest) -> Any:
        if self.input == "messages":
            return request.messages()
        if self.input == "text":
            return request.prompt()
        return {"question": request.question, "context": request.context_text, "task": request.task,
                "answer_so_far": request.answer_so_far, "prompt": request.user_prompt()}

    @staticmethod
    def _output(raw: Any) -> Generation:
        if isinstance(raw, BaseMessage):
            return as_generation(raw, logprobs_from_message(raw))
        return as_generation(raw)

    def generate(self, request: GenerationRequest) -> Generation:
        return self._output(self.runnable.invoke(self._input(request)))

    async def agenerate(self, request: GenerationRequest) -> Generation:
        return self._output(await self.runnable.ainvoke(self._input(request)))


class LangChainRetrieverAdapter(BaseRetriever):
    """Any LangChain retriever as a rag-plugins retriever, so the iterative pipelines can
    loop over it. ``k`` is passed as ``k`` when the retriever accepts it, else the
    results are cut to ``k``.

    >>> adapter = LangChainRetrieverAdapter(vectorstore.as_retriever())  # doctest: +SKIP
    """

    def __init__(self, retriever: LangChainBaseRetriever, name: str = "langchain"):
        self.retriever = retriever
        self.name = name

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        if filters:
            raise InvalidInputError("a LangChain retriever takes its filters when it is built, not per query; "
                                    "build the retriever with them, or drop filters")
        return documents_to_hits(self.retriever.invoke(query))[:k]

    async def aretrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        if filters:
            raise InvalidInputError("a LangChain retriever takes its filters when it is built, not per query; "
                                    "build the retriever with them, or drop filters")
        return documents_to_hits(await self.retriever.ainvoke(query))[:k]


def step_event(step: Step) -> dict[str, Any]:
    """A step as a stream event: ``event`` is ``retrieval`` or ``generation``."""
    out: dict[str, Any] = {"event": step.kind, "index": step.index, "reason": step.reason, "seconds": step.seconds}
    if step.query is not None:
        out["query"] = step.query
    out["documents"] = [hit_to_document(h) for h in step.hits]
    if step.generation is not None:
        out["generation"] = step.generation.text
    if step.confidence is not None:
        out["confidence"] = step.confidence
    if step.details:
        out["details"] = dict(step.details)
    return out


def result_output(result: IterativeResult) -> dict[str, Any]:
    """The Runnable's output: the answer, every merged hit as a Document (with the
    iteration that found it), the queries, the trace, and why it stopped."""
    return {"event": "result", "question": result.question, "answer": result.answer,
            "documents": [hit_to_document(h) for h in result.hits], "queries": result.queries,
            "steps": [step_event(s) for s in result.steps], "stop_reason": result.stop_reason,
            "path": result.path, "abstained": result.abstained, "message": result.message,
            "confidence": result.confidence, "seconds": result.seconds,
            "provenance": result.provenance.to_dict() if result.provenance is not None else None}


def _question(value: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    if isinstance(value, Mapping):
        for key in ("question", "query", "input"):
            if isinstance(value.get(key), str):
                return value[key], {k: value[k] for k in ("k", "filters") if k in value}
    raise InvalidTypeError("input must be the question as a string, or a dict with 'question' (optionally 'k', 'filters')")


class IterativeRetrievalRunnable(Runnable[Any, dict]):
    """An iterative pipeline (:class:`~rag_plugins.iterative.IterRetGen`,
    :class:`~rag_plugins.iterative.FlareRetrieval`, :class:`~rag_plugins.iterative.AdaptiveRetrieval`)
    as a LangChain Runnable.

    ``invoke`` / ``ainvoke`` take the question (or ``{"question", "k", "filters"}``) and
    return :func:`result_output`; ``stream`` / ``astream`` yield one event per step
    (:func:`step_event`) as it completes, then the result. Every step is also sent as the
    custom callback event ``rag_plugins_step`` (``astream_events`` shows it), and the
    answer's provenance as ``rag_plugins_provenance`` (which memory sourced it: retrieval or
    the model alone, the indexes, the chunks and the generations read).
    ``pinned_filters`` apply to every search; an input's ``filters`` can only narrow them.

    >>> from langchain_core.language_models import FakeListChatModel
    >>> from rag_plugins.iterative import IterRetGen
    >>> chain = IterativeRetrievalRunnable(IterRetGen(kb.hybrid_retriever(),  # doctest: +SKIP
    ...                                                LangChainGenerator(chat_model), iterations=2))
    >>> for event in chain.stream("Which office did the star of Kiss and Tell hold?"):  # doctest: +SKIP
    ...     print(event["event"], event.get("query", ""))
    """

    def __init__(self, pipeline: IterativePipeline, name: str | None = None,
                 pinned_filters: Mapping[str, Any] | None = None):
        if not isinstance(pipeline, IterativePipeline):
            raise InvalidTypeError(f"expected an IterRetGen, FlareRetrieval or AdaptiveRetrieval, got {type(pipeline).__name__}")
        self.pipeline = pipeline
        self.filter_policy = FilterPolicy(pinned_filters, allow_operators=True)
        self.name = name or f"rag_plugins_{pipeline.name.replace('-', '_')}"

    @property
    def InputType(self) -> Any:  # noqa: N802 (LangChain's name)
        return str

    @property
    def OutputType(self) -> Any:  # noqa: N802
        return dict

    def _input(self, value: Any) -> tuple[str, dict[str, Any]]:
        question, options = _question(value)
        return question, {**options, "filters": self.filter_policy.apply(options.get("filters"))}

    def _events(self, value: Any, config: RunnableConfig) -> Iterator[dict[str, Any]]:
        question, options = self._input(value)
        for event in self.pipeline.stream(question, **options):
            if isinstance(event, Step):
                payload = step_event(event)
                dispatch_custom_event(STEP_EVENT, payload, config=config)
                yield payload
            else:
                output = result_output(event)
                dispatch_custom_event(PROVENANCE_EVENT, {"question": question, **(output["provenance"] or {})},
                                      config=config)
                yield output

    async def _aevents(self, value: Any, config: RunnableConfig) -> AsyncIterator[dict[str, Any]]:
        question, options = self._input(value)
        async for event in self.pipeline.astream(question, **options):
            if isinstance(event, Step):
                payload = step_event(event)
                await adispatch_custom_event(STEP_EVENT, payload, config=config)
                yield payload
            else:
                output = result_output(event)
                await adispatch_custom_event(PROVENANCE_EVENT, {"question": question, **(output["provenance"] or {})},
                                             config=config)
                yield output

    def _run(self, value: Any, config: RunnableConfig) -> dict:
        last: dict = {}
        for last in self._events(value, config):
            pass
        return last

    async def _arun(self, value: Any, config: RunnableConfig) -> dict:
        last: dict = {}
        async for last in self._aevents(value, config):
            pass
        return last

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        return self._call_with_config(self._run, input, ensure_config(config))

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        return await self._acall_with_config(self._arun, input, ensure_config(config))

    def _transform(self, inputs: Iterator[Any], config: RunnableConfig) -> Iterator[dict]:
        for value in inputs:
            yield from self._events(value, config)

    async def _atransform(self, inputs: AsyncIterator[Any], config: RunnableConfig) -> AsyncIterator[dict]:
        async for value in inputs:
            async for event in self._aevents(value, config):
                yield event

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[dict]:
        yield from self._transform_stream_with_config(iter([input]), self._transform, ensure_config(config))

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[dict]:
        async def one() -> AsyncIterator[Any]:
            yield input

        async for event in self._atransform_stream_with_config(one(), self._atransform, ensure_config(config)):
            yield event


def iterative_tool(pipeline: IterativePipeline, name: str = TOOL_NAME, description: str = TOOL_DESCRIPTION,
                   max_passages: int = 8, pinned_filters: Mapping[str, Any] | None = None) -> StructuredTool:
    """The pipeline as a ``StructuredTool`` an agent can call with the question
    (``content_and_artifact``: the draft answer, the searches and the passages as marked
    data for the model; the Documents as the artifact). Every search runs under
    ``pinned_filters``.

    >>> tool = iterative_tool(IterRetGen(kb.hybrid_retriever(), ExtractiveBridgeGenerator(kb)))  # doctest: +SKIP
    """
    return langchain_tool(ResearchTool(pipeline, name, description, k=max_passages, pinned_filters=pinned_filters))


__all__ = ["STEP_EVENT", "IterativeRetrievalRunnable", "LangChainGenerator", "LangChainRetrieverAdapter",
           "iterative_tool", "logprobs_from_message", "result_output", "step_event"]
