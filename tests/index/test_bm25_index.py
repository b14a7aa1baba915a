"""BM25 scores pinned to bm25s method="lucene" with the same tokens, and incremental = rebuilt."""

import json
from pathlib import Path

import numpy as np
import pytest

from rag_plugins.index.bm25 import BM25Index, BM25Params
from rag_plugins.text.analysis import Analyzer

DEMO = Path(__file__).resolve().parents[2] / "examples" / "data" / "hotpotqa_paragraphs.jsonl"


@pytest.fixture(scope="module")
def tokens():
    analyzer = Analyzer()
    rows = [json.loads(line) for line in DEMO.read_text().splitlines()]
    return [analyzer.tokenize(r["title"] + "\n" + r["text"]) for r in rows], analyzer


QUERIES = ["Kiss and Tell film actress government position", "arena seating capacity Lewiston",
           "the the of", "South Korean boy group debut album album", "zzzunknownterm"]


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (1.2, 0.3), (0.9, 1.0)])
def test_scores_match_bm25s_lucene(tokens, k1, b):
    bm25s = pytest.importorskip("bm25s")
    corpus_tokens, analyzer = tokens
    reference = bm25s.BM25(method="lucene", k1=k1, b=b)
    reference.index(corpus_tokens, show_progress=False)
    ours = BM25Index.empty(BM25Params(k1, b)).apply(add_rows=np.arange(len(corpus_tokens)), add_tokens=corpus_tokens)
    for query in QUERIES:
        q = analyzer.tokenize(query)
        q_known = [t for t in q if t in reference.vocab_dict]
        expected = reference.get_scores(q_known) if q_known else np.zeros(len(corpus_tokens))
        np.testing.assert_allclose(ours.scores(q), expected, atol=1e-5, rtol=0)


def test_incremental_updates_equal_a_rebuild(tokens):
    corpus_tokens, analyzer = tokens
    n = len(corpus_tokens)
    index = BM25Index.empty().apply(add_rows=np.arange(n), add_tokens=corpus_tokens)
    # delete 40 chunks, re-add 20 of them with new rows, add 5 new chunks
    deleted = np.arange(100, 140)
    index = index.apply(delete_rows=deleted)
    readd = list(range(100, 120))
    extra = [analyzer.tokenize("completely new paragraph about quantum chromodynamics") for _ in range(5)]
    index = index.apply(add_rows=np.arange(n, n + 25), add_tokens=[corpus_tokens[i] for i in readd] + extra)

    survivors = [i for i in range(n) if not 100 <= i < 140]
    rebuilt_tokens = [corpus_tokens[i] for i in survivors] + [corpus_tokens[i] for i in readd] + extra
    rebuilt = BM25Index.empty().apply(add_rows=np.arange(len(rebuilt_tokens)), add_tokens=rebuilt_tokens)
    assert len(index) == len(rebuilt) == n - 40 + 25
    for query in QUERIES + ["quantum chromodynamics"]:
        q = analyzer.tokenize(query)
        np.testing.assert_allclose(index.scores(q), rebuilt.scores(q), atol=1e-5)


def test_top_k_with_allowed_positions_returns_k_even_with_zero_scores(tokens):
    corpus_tokens, analyzer = tokens
    index = BM25Index.empty().apply(add_rows=np.arange(50), add_tokens=corpus_tokens[:50])
    allowed = np.array([3, 7, 11, 19, 23])
    positions, scores = index.top_k(analyzer.tokenize("Corliss Archer"), 4, allowed)
    assert len(positions) == 4 and set(positions) <= set(allowed)
    assert list(scores) == sorted(scores, reverse=True)
    positions, _ = index.top_k(analyzer.tokenize("Corliss Archer"), 10, allowed)
    assert sorted(positions) == sorted(allowed)  # k larger than allowed: all of them


def test_save_and_load_roundtrip(tmp_path, tokens):
    corpus_tokens, analyzer = tokens
    index = BM25Index.empty(BM25Params(1.2, 0.5)).apply(add_rows=np.arange(30) * 3, add_tokens=corpus_tokens[:30])
    index.save(tmp_path, analyzer)
    loaded, loaded_analyzer = BM25Index.load(tmp_path)
    q = analyzer.tokenize("film director")
    np.testing.assert_array_equal(loaded.scores(q), index.scores(q))
    assert loaded.params == index.params and loaded_analyzer.config() == analyzer.config()
    assert np.array_equal(loaded.rows, index.rows)


def test_analyzer_normalises_and_stems():
    analyzer = Analyzer()
    assert analyzer.tokenize("Ｃａｆé RUNNING runs and the") == ["café", "run", "run"]
    assert Analyzer(stem=False).tokenize("Running dogs") == ["running", "dogs"]
