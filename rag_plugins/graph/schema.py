"""The structured-output schema the framework adapters ask language models to fill.

Pydantic models, imported only by the LangChain and LlamaIndex extractors (both frameworks
depend on pydantic; the core does not).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Triple(BaseModel):
    """One fact: subject --relation--> object."""

    subject: str = Field(description="the entity the fact is about, named as in the passage")
    relation: str = Field(description="a short verb phrase, e.g. 'was born in'")
    object: str = Field(description="the other entity or value")


class Triples(BaseModel):
    """Every fact the passage states."""

    triples: list[Triple]
