"""An iterative pipeline as an agent tool: its name, its description for the model, and
the text it returns (the answer draft, the searches made, the passages as marked data)."""

from __future__ import annotations

from typing import Sequence

from rag_plugins.iterative.trace import IterativeResult
from rag_plugins.routing.tools import format_hits
from rag_plugins.types import Hit

TOOL_NAME = "multi_hop_search"
TOOL_DESCRIPTION = (
    "Research a question that needs several facts chained together (who/what is X, then what about it): "
    "searches the knowledge base repeatedly, each search informed by what the previous one found. "
    "Input: the full question. Returns a draft answer, the searches made, and the passages found, each "
    "with its source id; cite sources by id. If evidence is insufficient it says so: then do not guess."
)


def format_result(result: IterativeResult, max_passages: int = 8) -> str:
    """What the tool tells the model.

    >>> from rag_plugins.iterative import IterativeResult
    >>> print(format_result(IterativeResult("q?", "", (), (), "insufficient_evidence", "abstained",
    ...                                     message="Insufficient evidence: nothing found.")))
    Insufficient evidence: nothing found.
    """
    return format_research(result.answer, result.queries, result.hits[:max_passages],
                           result.message if result.abstained else None)


def format_research(answer: str, queries: Sequence[str], hits: Sequence[Hit], abstention: str | None = None) -> str:
    """The tool text from its parts (what a framework response still holds): the
    abstention notice alone, or the draft answer, the searches and the passages."""
    if abstention is not None:
        return abstention or "Insufficient evidence."
    lines = []
    if answer.strip():
        lines.append(f"Draft answer (verify against the passages): {answer.strip()}")
    if queries:
        lines.append("Searches made: " + " | ".join(queries))
    lines.append(format_hits(hits))
    return "\n\n".join(lines)
