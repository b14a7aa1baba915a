"""The structured answer an LLM router asks for (pydantic; used by the framework adapters'
structured-output paths, so the core never imports it on its own)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RouteChoice(BaseModel):
    """Which search route answers the query best."""

    route: str = Field(description="the route's name, exactly as listed")
    reason: str = Field(default="", description="why this route, in a few words")
    confidence: float = Field(default=0.8, ge=0.0, le=1.0, description="how sure, from 0 to 1")
