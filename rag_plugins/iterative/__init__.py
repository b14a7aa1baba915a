"""Iterative, generation-guided retrieval: ITER-RETGEN, FLARE-style active retrieval and
adaptive gating, each runnable sync, async, streamed step by step, or batched."""

from rag_plugins.iterative.flare import FlareRetrieval, Lookahead, first_sentence, masked_query
from rag_plugins.iterative.gating import AdaptiveRetrieval
from rag_plugins.iterative.iter_retgen import IterRetGen
from rag_plugins.iterative.merge import cascade_merge
from rag_plugins.iterative.pipeline import GenerateCall, IterativePipeline, RetrieveCall
from rag_plugins.iterative.retriever import IterativeRetriever
from rag_plugins.iterative.trace import PATHS, IterativeResult, Step

__all__ = [
    "AdaptiveRetrieval", "FlareRetrieval", "GenerateCall", "IterRetGen", "IterativePipeline", "IterativeResult",
    "IterativeRetriever", "Lookahead", "PATHS", "RetrieveCall", "Step", "cascade_merge", "first_sentence",
    "masked_query",
]
