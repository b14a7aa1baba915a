"""An iterative pipeline as an agent tool: multi-hop research in one call, answered with
the draft answer, the searches made and the passages (as untrusted data)."""

from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

from rag_plugins._validation import check_k
from rag_plugins.filter_policy import FilterPolicy
from rag_plugins.iterative.pipeline import IterativePipeline
from rag_plugins.iterative.trace import IterativeResult
from rag_plugins.tools.passages import DocumentInfo, escape, format_passages, freshness, passage_records
from rag_plugins.tools.result import ToolResult
from rag_plugins.tools.spec import ToolSpec, check_arguments
from rag_plugins.types import Hit

TOOL_NAME = "multi_hop_search"
DRAFT_LABEL = "Draft answer (derived from the passages; verify against them)"
TOOL_DESCRIPTION = (
    "Research a question that needs several facts chained together (who/what is X, then what about it): "
    "searches the knowledge base repeatedly, each search informed by what the previous one found. "
    "Input: the full question. Returns a draft answer, the searches made, and the passages found, each "
    "with its source id; cite sources by id. If evidence is insufficient it says so: then do not guess."
)


def research_parameters(k: int, max_k: int) -> dict[str, Any]:
    return {"type": "object", "required": ["query"], "additionalProperties": False, "properties": {
        "query": {"type": "string", "minLength": 1, "description": "The full question to research."},
        "k": {"type": "integer", "minimum": 1, "maximum": max_k, "default": k,
              "description": f"How many passages to return (1 to {max_k})."},
    }}


class ResearchTool:
    """An :class:`~rag_plugins.iterative.IterativePipeline` (ITER-RETGEN, FLARE, adaptive
    gating) as a tool taking the question. Every search it makes runs under
    ``pinned_filters`` (the model sends no filter).

    >>> tool = ResearchTool(IterRetGen(kb.hybrid_retriever(), ExtractiveBridgeGenerator(kb)))  # doctest: +SKIP
    >>> print(tool.run({"query": "Which position did the star of Kiss and Tell hold?"}).content)  # doctest: +SKIP
    """

    def __init__(self, pipeline: IterativePipeline, name: str = TOOL_NAME, description: str = TOOL_DESCRIPTION,
                 *, k: int = 6, max_k: int = 20, pinned_filters: Mapping[str, Any] | None = None,
                 document_info: DocumentInfo | None = None):
        k = check_k(k)
        self.pipeline = pipeline
        self.document_info = document_info
        self.filter_policy = FilterPolicy(pinned_filters)
        self.answer_label = getattr(pipeline.generator, "answer_label", DRAFT_LABEL)
        self.spec = ToolSpec(name, description, research_parameters(k, max(check_k(max_k, "max_k"), k)))

    @property
    def name(self) -> str:
        return self.spec.name

    def restricted(self, pinned_filters: Mapping[str, Any] | None = None,
                   allow_filter_operators: bool | None = None) -> "ResearchTool":
        """A copy with ``pinned_filters`` pinned as well (the model sends no filter here,
        so ``allow_filter_operators`` changes nothing)."""
        tool = copy.copy(self)
        tool.filter_policy = self.filter_policy.restricted(pinned_filters, allow_filter_operators)
        return tool

    def run(self, arguments: Any) -> ToolResult:
        args = check_arguments(self.spec, arguments)
        result = self.pipeline.run(args["query"], filters=self.filter_policy.apply(None))
        return research_result(self.name, result, args["k"], self.answer_label, self.document_info)

    async def arun(self, arguments: Any) -> ToolResult:
        """The pipeline's own ``arun``: retrieval and generation are awaited, off the loop."""
        args = check_arguments(self.spec, arguments)
        result = await self.pipeline.arun(args["query"], filters=self.filter_policy.apply(None))
        return research_result(self.name, result, args["k"], self.answer_label, self.document_info)


def research_result(tool: str, result: IterativeResult, k: int, answer_label: str = DRAFT_LABEL,
                    document_info: DocumentInfo | None = None) -> ToolResult:
    hits = list(result.hits[:k])
    fresh = freshness(hits, document_info) if document_info else None
    data = {key: value for key, value in result.to_dict().items() if key not in ("hits", "steps")}
    data["passages"] = passage_records(hits, fresh)
    return ToolResult(tool, format_result(result, k, answer_label, fresh), hits, data)


def format_result(result: IterativeResult, max_passages: int = 8, answer_label: str = DRAFT_LABEL,
                  fresh: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """What the tool tells the model.

    >>> from rag_plugins.iterative import IterativeResult
    >>> print(format_result(IterativeResult("q?", "", (), (), "insufficient_evidence", "abstained",
    ...                                     message="Insufficient evidence: nothing found.")))
    Insufficient evidence: nothing found.
    """
    return format_research(result.answer, result.queries, result.hits[:max_passages],
                           result.message if result.abstained else None, answer_label, fresh)


def format_research(answer: str, queries: Sequence[str], hits: Sequence[Hit], abstention: str | None = None,
                    answer_label: str = DRAFT_LABEL, fresh: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The tool text from its parts (what a framework response still holds): the
    abstention notice alone, or the draft answer and the searches (both derived from
    retrieved text, so escaped like it) and the passages."""
    if abstention is not None:
        return abstention or "Insufficient evidence."
    lines = []
    if answer.strip():
        lines.append(f"{answer_label}: {escape(answer.strip(), quote=False)}")
    if queries:
        lines.append("Searches made: " + " | ".join(escape(q, quote=False) for q in queries))
    lines.append(format_passages(hits, fresh=fresh))
    return "\n\n".join(lines)
