"""Generators: the protocol the iterative loops call, plain-function and extractive
generators, prompt context fitting, and RAG-Sequence / RAG-Token answer scoring.

Framework models (LangChain chat models and Runnables, LlamaIndex LLMs) are adapted in
the ``integrations/`` distributions.
"""

from rag_plugins.generation.base import (
    INSTRUCT_PROMPT, SYSTEM_PROMPT, TASKS, BaseGenerator, Generation, GenerationRequest, Generator, TokenLogprob,
    as_generation,
)
from rag_plugins.generation.callable import CallableGenerator
from rag_plugins.generation.context import ContextWindow, FittedContext, unique_hits
from rag_plugins.generation.extractive import BridgeSentence, ExtractiveBridgeGenerator

__all__ = [
    "BaseGenerator", "BridgeSentence", "CallableGenerator", "ContextWindow", "ExtractiveBridgeGenerator",
    "FittedContext", "Generation", "GenerationRequest", "Generator", "INSTRUCT_PROMPT", "SYSTEM_PROMPT", "TASKS",
    "TokenLogprob", "as_generation", "unique_hits",
]
