"""The RAG paper's own formulation (Lewis et al., 2020): score candidate answers by
marginalising a Hugging Face model's likelihood over the retrieved passages.

- RAG-Sequence: p(y|x) ≈ Σ_z p(z|x) · p(y|x,z)
- RAG-Token:    p(y|x) ≈ Π_i Σ_z p(z|x) · p(y_i|x,z,y_<i)

with p(z|x) the softmax of the top-k retrieval scores (divided by ``temperature``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from rag_plugins._deps import require
from rag_plugins._device import LazyModel
from rag_plugins._validation import check_number, check_query
from rag_plugins.errors import InvalidInputError, ModelLoadError
from rag_plugins.types import Hit

DEFAULT_TEMPLATE = "Passage: {passage}\nQuestion: {question}\nAnswer:"


@dataclass(frozen=True)
class AnswerScore:
    """One candidate's log-likelihoods: ``rag_sequence`` and ``rag_token`` (natural log,
    whole answer), ``passage_logprobs`` = log p(z|x) and ``per_passage`` = log p(y|x,z)
    for each passage, in the order of the hits."""

    answer: str
    rag_sequence: float
    rag_token: float
    passage_logprobs: tuple[float, ...]
    per_passage: tuple[float, ...]
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "rag_sequence": self.rag_sequence, "rag_token": self.rag_token,
                "passage_logprobs": list(self.passage_logprobs), "per_passage": list(self.per_passage),
                "tokens": self.tokens}


def passage_logprobs(hits: Sequence[Hit], temperature: float = 1.0) -> np.ndarray:
    """log p(z|x): log-softmax of the hits' scores divided by ``temperature``.

    >>> from rag_plugins.types import Chunk
    >>> hits = [Hit(Chunk(f"d{i}#0", f"d{i}", "t", 0), s) for i, s in enumerate([2.0, 0.0])]
    >>> np.round(np.exp(passage_logprobs(hits)), 3).tolist()
    [0.881, 0.119]
    """
    scores = np.array([h.score for h in hits], dtype=np.float64) / temperature
    shifted = scores - scores.max()
    return shifted - np.log(np.exp(shifted).sum())


def marginalise(doc_logprobs: np.ndarray, token_logprobs: np.ndarray) -> tuple[float, float]:
    """(RAG-Sequence, RAG-Token) log-likelihoods from log p(z|x) (shape [k]) and
    log p(y_i|x,z,y_<i) (shape [k, n]).

    >>> lz = np.log([0.5, 0.5]); ly = np.log([[0.9, 0.1], [0.1, 0.9]])
    >>> [round(float(np.exp(v)), 3) for v in marginalise(lz, ly)]
    [0.09, 0.25]
    """
    sequence = np.logaddexp.reduce(doc_logprobs + token_logprobs.sum(axis=1))
    token = np.logaddexp.reduce(doc_logprobs[:, None] + token_logprobs, axis=0).sum()
    return float(sequence), float(token)


class RagAnswerScorer(LazyModel):
    """Score candidate answers to a question against its retrieved hits with a Hugging Face
    causal (GPT-style) or sequence-to-sequence (T5/BART-style) model.

    Each passage is put in ``template`` with the question; the answer's tokens are scored
    after it (causal: continuing the prompt, tokenised separately so the boundary is
    exact; seq2seq: as the decoder's target, end-of-sequence included). Use it to rerank
    a generator's sampled answers, or to pick among fixed options.

    >>> scorer = RagAnswerScorer("google/flan-t5-small")  # doctest: +SKIP
    >>> best = max(scorer.score(question, hits, ["Paris", "Rome"]), key=lambda s: s.rag_sequence)  # doctest: +SKIP
    """

    def __init__(self, model_name_or_path: str, *, device: str | None = None, template: str = DEFAULT_TEMPLATE,
                 temperature: float = 1.0, max_length: int = 512, revision: str | None = None):
        if not isinstance(model_name_or_path, str) or not model_name_or_path.strip():
            raise InvalidInputError("model_name_or_path must be a model id or a local folder path")
        if "{passage}" not in template or "{question}" not in template:
            raise InvalidInputError("template must contain {passage} and {question}")
        check_number(temperature, "temperature", 0, low_open=True)
        super().__init__(device)
        self.model_id = model_name_or_path
        self.template = template
        self.temperature = float(temperature)
        self.max_length = max_length
        self.revision = revision

    def _load(self, device: str) -> Any:
        transformers = require("transformers", "RAG answer scoring")
        try:
            config = transformers.AutoConfig.from_pretrained(self.model_id, revision=self.revision)
            tokenizer = transformers.AutoTokenizer.from_pretrained(self.model_id, revision=self.revision)
            kind = transformers.AutoModelForSeq2SeqLM if config.is_encoder_decoder else transformers.AutoModelForCausalLM
            model = kind.from_pretrained(self.model_id, revision=self.revision, use_safetensors=True)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"could not load {self.model_id!r} as a causal or seq2seq language model: {exc}. Pass a local "
                "folder with the model's safetensors weights and tokenizer, or an id in the Hugging Face cache."
            ) from exc
        model.to(device).eval()
        return model, tokenizer, bool(config.is_encoder_decoder)

    def token_logprobs(self, question: str, passage: str, answer: str) -> np.ndarray:
        """log p(y_i | x, z, y_<i) for each token of ``answer`` given one passage."""
        torch = require("torch", "RAG answer scoring")
        model, tokenizer, seq2seq = self.model
        prompt = self.template.format(passage=passage, question=question)
        with torch.inference_mode():
            if seq2seq:
                enc = tokenizer(prompt, return_tensors="pt", truncation=True, max_length=self.max_length)
                labels = tokenizer(text_target=answer, return_tensors="pt")["input_ids"]
                logits = model(input_ids=enc["input_ids"].to(self.device),
                               attention_mask=enc["attention_mask"].to(self.device),
                               labels=labels.to(self.device)).logits[0]
                targets = labels[0].to(self.device)
            else:
                prompt_ids = tokenizer(prompt, return_tensors="pt")["input_ids"][0]
                answer_ids = tokenizer(answer, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
                limit = min(self.max_length, getattr(model.config, "max_position_embeddings", self.max_length))
                if len(answer_ids) >= limit:
                    raise InvalidInputError(f"the answer alone is {len(answer_ids)} tokens; the model takes {limit}")
                prompt_ids = prompt_ids[-(limit - len(answer_ids)):]  # keep the end: the question
                ids = torch.cat([prompt_ids, answer_ids])[None].to(self.device)
                logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1]
                targets = answer_ids.to(self.device)
            logprobs = torch.log_softmax(logits.float(), dim=-1).gather(1, targets[:, None])[:, 0]
        return logprobs.cpu().numpy().astype(np.float64)

    def score(self, question: str, hits: Sequence[Hit], answers: Sequence[str]) -> list[AnswerScore]:
        """One :class:`AnswerScore` per answer, in order."""
        check_query(question)
        if not hits:
            raise InvalidInputError("score needs at least one hit to marginalise over; retrieve first")
        if not answers or any(not isinstance(a, str) or not a.strip() for a in answers):
            raise InvalidInputError("answers must be a non-empty list of non-empty strings")
        doc_logprobs = passage_logprobs(hits, self.temperature)
        out = []
        for answer in answers:
            per_token = np.stack([self.token_logprobs(question, h.chunk.text, answer) for h in hits])
            sequence, token = marginalise(doc_logprobs, per_token)
            out.append(AnswerScore(answer, sequence, token, tuple(doc_logprobs.tolist()),
                                   tuple(per_token.sum(axis=1).tolist()), per_token.shape[1]))
        return out
