"""RAG-Sequence and RAG-Token on tiny random Hugging Face models, against values computed
by hand: one forward pass per answer prefix, and the marginals summed in plain Python."""

from __future__ import annotations

import math

import pytest

from rag_plugins.errors import InvalidInputError, ModelLoadError
from rag_plugins.generation.marginal import DEFAULT_TEMPLATE, RagAnswerScorer
from rag_plugins.types import Chunk, Hit

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

QUESTION = "who played Corliss Archer"
HITS = [Hit(Chunk("a#0", "a", "Shirley Temple played Corliss Archer.", 0), 2.0),
        Hit(Chunk("b#0", "b", "Corliss Archer was a radio character.", 0), 0.5),
        Hit(Chunk("c#0", "c", "Bread needs flour.", 0), -1.0)]
ANSWERS = ["shirley temple", "a radio host"]


@pytest.fixture(scope="module", params=["causal", "seq2seq"])
def tiny_lm(request, tmp_path_factory, minilm_path):
    torch.manual_seed(0)
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_path)
    if request.param == "causal":
        config = transformers.GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=128, n_embd=16, n_layer=1,
                                         n_head=2, bos_token_id=tokenizer.cls_token_id,
                                         eos_token_id=tokenizer.sep_token_id)
        model = transformers.GPT2LMHeadModel(config)
    else:
        config = transformers.T5Config(vocab_size=tokenizer.vocab_size, d_model=16, d_ff=32, d_kv=8, num_layers=1,
                                       num_heads=2, decoder_start_token_id=tokenizer.pad_token_id,
                                       pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id)
        model = transformers.T5ForConditionalGeneration(config)
    folder = tmp_path_factory.mktemp(f"tiny-{request.param}")
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    return request.param, str(folder), model.eval(), tokenizer


def by_hand(kind, model, tokenizer, passage, answer):
    """p(y_i | x, z, y_<i) for each answer token, one forward pass per prefix."""
    prompt = DEFAULT_TEMPLATE.format(passage=passage, question=QUESTION)
    probs = []
    with torch.no_grad():
        if kind == "causal":
            prefix = tokenizer(prompt)["input_ids"]
            target = tokenizer(answer, add_special_tokens=False)["input_ids"]
            for i, token in enumerate(target):
                logits = model(input_ids=torch.tensor([prefix + target[:i]])).logits[0, -1]
                probs.append(torch.softmax(logits, -1)[token].item())
        else:
            encoder_ids = torch.tensor([tokenizer(prompt)["input_ids"]])
            target = tokenizer(text_target=answer)["input_ids"]
            for i, token in enumerate(target):
                decoder = torch.tensor([[model.config.decoder_start_token_id] + target[:i]])
                logits = model(input_ids=encoder_ids, decoder_input_ids=decoder).logits[0, -1]
                probs.append(torch.softmax(logits, -1)[token].item())
    return probs


def test_rag_sequence_and_rag_token_match_hand_computation(tiny_lm):
    kind, folder, model, tokenizer = tiny_lm
    scorer = RagAnswerScorer(folder, device="cpu")
    scores = scorer.score(QUESTION, HITS, ANSWERS)
    weights = [math.exp(h.score) for h in HITS]
    p_z = [w / sum(weights) for w in weights]
    for answer, score in zip(ANSWERS, scores):
        per_doc = [by_hand(kind, model, tokenizer, h.chunk.text, answer) for h in HITS]
        sequence = sum(pz * math.prod(probs) for pz, probs in zip(p_z, per_doc))
        token = math.prod(sum(pz * probs[i] for pz, probs in zip(p_z, per_doc)) for i in range(len(per_doc[0])))
        assert score.answer == answer and score.tokens == len(per_doc[0])
        assert math.exp(score.rag_sequence) == pytest.approx(sequence, rel=1e-4)
        assert math.exp(score.rag_token) == pytest.approx(token, rel=1e-4)
        assert [math.exp(v) for v in score.passage_logprobs] == pytest.approx(p_z)
        assert [math.exp(v) for v in score.per_passage] == pytest.approx([math.prod(p) for p in per_doc], rel=1e-4)


def test_temperature_flattens_the_passage_distribution(tiny_lm):
    _, folder, _, _ = tiny_lm
    sharp = RagAnswerScorer(folder, device="cpu").score(QUESTION, HITS, ANSWERS[:1])[0]
    flat = RagAnswerScorer(folder, device="cpu", temperature=100.0).score(QUESTION, HITS, ANSWERS[:1])[0]
    assert max(sharp.passage_logprobs) > max(flat.passage_logprobs)
    assert [math.exp(v) for v in flat.passage_logprobs] == pytest.approx([1 / 3] * 3, abs=0.01)


def test_bad_input_and_bad_models(tiny_lm, tmp_path):
    _, folder, _, _ = tiny_lm
    scorer = RagAnswerScorer(folder, device="cpu")
    with pytest.raises(InvalidInputError, match="at least one hit"):
        scorer.score(QUESTION, [], ANSWERS)
    with pytest.raises(InvalidInputError, match="answers"):
        scorer.score(QUESTION, HITS, ["", "x"])
    with pytest.raises(InvalidInputError, match="template"):
        RagAnswerScorer(folder, template="{question}")
    with pytest.raises(ModelLoadError, match="causal or seq2seq"):
        RagAnswerScorer(str(tmp_path / "missing"), device="cpu").score(QUESTION, HITS, ANSWERS)
