from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from rag_plugins.errors import InvalidInputError
from rag_plugins.generation import (
    CallableGenerator, ContextWindow, ExtractiveBridgeGenerator, Generation, GenerationRequest, TokenLogprob,
    as_generation,
)
from rag_plugins.types import Chunk, Hit
from tests.iterative.multihop_data import PARAGRAPHS, QUESTION


def hit(doc_id: str) -> Hit:
    title, text = next((t, x) for i, t, x in PARAGRAPHS if i == doc_id)
    return Hit(Chunk(f"{doc_id}#0", doc_id, text, 0, {"title": title}), 1.0)


class Message:  # what a chat model returns: content text
    content = "from a message"


def test_as_generation_reads_what_models_return():
    assert as_generation("text").text == "text"
    assert as_generation(Message()).text == "from a message"
    assert as_generation({"text": "mapping"}).text == "mapping"
    assert as_generation({"content": [{"type": "text", "text": "block"}]}).text == "block"
    g = Generation("x", (TokenLogprob("x", math.log(0.5)),))
    assert as_generation(g) is g and g.min_probability == pytest.approx(0.5)
    with pytest.raises(TypeError, match="return text"):
        as_generation(42)


def test_requests_render_prompts_and_messages():
    request = GenerationRequest(QUESTION, hits=(hit("kiss"),), task="instruct", answer_so_far="She was")
    system, user = request.messages()
    assert system[0] == "system" and user[0] == "user"
    assert "(kiss#0) Kiss and Tell is a 1945" in user[1] and "[Search(" in user[1]
    assert user[1].endswith("Answer so far: She was")
    assert request.prompt().startswith(request.system)
    with pytest.raises(ValueError, match="task"):
        GenerationRequest(QUESTION, task="poem")


def test_callable_generator_sync_async_and_request_modes():
    seen = []
    plain = CallableGenerator(lambda prompt: seen.append(prompt) or "ok")
    assert plain.generate(GenerationRequest("q?")).text == "ok" and "Question: q?" in seen[0]

    async def afn(request):
        return Generation(request.question.upper())

    both = CallableGenerator(afn, pass_request=True)
    assert both.generate(GenerationRequest("q?")).text == "Q?"
    assert asyncio.run(both.agenerate(GenerationRequest("q?"))).text == "Q?"
    assert asyncio.run(plain.agenerate(GenerationRequest("q?"))).text == "ok"
    with pytest.raises(InvalidInputError):
        CallableGenerator("not callable")


def test_context_window_dedups_and_budgets():
    window = ContextWindow(token_budget=38, min_tokens=5)
    fitted = window.fit([hit("kiss"), hit("kiss"), hit("temple"), hit("radio")])
    assert [h.document_id for h in fitted.hits] == ["kiss", "temple"]
    assert fitted.truncated == "temple#0" and fitted.dropped == ("radio#0",)
    assert fitted.tokens <= 38 and fitted.text.endswith("…")
    with pytest.raises(InvalidInputError):
        ContextWindow(token_budget=0)


def test_extractive_generator_bridges_to_new_entities(embedder):
    generator = ExtractiveBridgeGenerator(embedder, sentences=1)
    request = GenerationRequest(QUESTION, hits=(hit("kiss"), hit("radio")))
    out = generator.generate(request)
    assert "Shirley Temple" in out.text
    chosen = out.metadata["sentences"][0]
    assert chosen["chunk_id"] == "kiss#0" and "Shirley Temple" in chosen["entities"]
    # once the bridge is known, it is no longer new
    later = generator.generate(GenerationRequest(QUESTION, hits=(hit("kiss"),), history=(out.text,)))
    assert "Shirley Temple" not in later.text
    sentences = ExtractiveBridgeGenerator(embedder, sentences=1, output="sentences").generate(request)
    assert sentences.text == chosen["text"]
    assert ExtractiveBridgeGenerator(embedder).generate(GenerationRequest(QUESTION)).text == ""


def test_extractive_generator_uses_titles_only_when_asked():
    vectors = lambda texts: np.ones((len(texts), 3), dtype=np.float32)  # noqa: E731
    plain = Hit(Chunk("g#0", "g", "the country has a long coastline.", 0, {"title": "Ghana"}), 1.0)
    request = GenerationRequest("Which coastline is long?", hits=(plain,))
    assert ExtractiveBridgeGenerator(vectors, use_titles=False).generate(request).text == ""
    assert ExtractiveBridgeGenerator(vectors).generate(request).text == "Ghana"


def test_extractive_generator_rejects_bad_settings_and_bad_vectors():
    with pytest.raises(InvalidInputError, match="output"):
        ExtractiveBridgeGenerator(lambda t: None, output="poem")
    with pytest.raises(InvalidInputError, match="sentences"):
        ExtractiveBridgeGenerator(lambda t: None, sentences=0)
    with pytest.raises(InvalidInputError, match="embed"):
        ExtractiveBridgeGenerator(42)
    broken = ExtractiveBridgeGenerator(lambda texts: np.full((len(texts), 3), np.nan))
    with pytest.raises(InvalidInputError, match="non-finite"):
        broken.generate(GenerationRequest(QUESTION, hits=(hit("kiss"),)))
