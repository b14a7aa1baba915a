"""An incremental Lucene-style BM25 index over chunk rows.

Postings (term -> chunk, term frequency) are kept in CSC arrays. Adding or deleting
chunks analyses only those chunks; the remaining postings are filtered and merged with
vectorised numpy, and the BM25 weights are recomputed in one pass (a change in corpus
size changes every IDF under Lucene's formula, so cached weights cannot be patched).
Scores match bm25s ``method="lucene"``:

    idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
    w(t, d) = idf(t) * tf / (tf + k1 * (1 - b + b * |d| / avgdl))
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag_plugins._progress import progress_bar
from rag_plugins.errors import InvalidInputError
from rag_plugins.text.analysis import Analyzer

BM25_STATISTICS = ("collection", "filtered")
_FILES = ("bm25.json", "bm25_rows.npy", "bm25_doc_len.npy", "bm25_indptr.npy",
          "bm25_post_doc.npy", "bm25_post_tf.npy")


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.5
    b: float = 0.75

    def __post_init__(self) -> None:
        if not (isinstance(self.k1, (int, float)) and self.k1 >= 0):
            raise InvalidInputError(f"k1 must be a number >= 0, got {self.k1!r}")
        if not (isinstance(self.b, (int, float)) and 0 <= self.b <= 1):
            raise InvalidInputError(f"b must be in [0, 1], got {self.b!r}")


class BM25Index:
    """One immutable BM25 generation; :meth:`apply` returns the next one.

    >>> idx = BM25Index.empty().apply(add_rows=[0, 1], add_tokens=[["cat", "sat"], ["dog"]])
    >>> positions, scores = idx.top_k(["dog"], k=1)
    >>> idx.rows[positions].tolist()
    [1]
    """

    def __init__(
        self,
        vocab: list[str],
        rows: np.ndarray,
        doc_len: np.ndarray,
        indptr: np.ndarray,
        post_doc: np.ndarray,
        post_tf: np.ndarray,
        params: BM25Params = BM25Params(),
    ):
        self.vocab = vocab
        self.term_ids = {t: i for i, t in enumerate(vocab)}
        self.rows = rows
        self.doc_len = doc_len
        self.indptr = indptr
        self.post_doc = post_doc
        self.post_tf = post_tf
        self.params = params
        self.weights = self._weights()

    @classmethod
    def empty(cls, params: BM25Params = BM25Params()) -> "BM25Index":
        return cls([], np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(1, np.int64),
                   np.zeros(0, np.int32), np.zeros(0, np.int32), params)

    def __len__(self) -> int:
        return len(self.rows)

    def _weights(self) -> np.ndarray:
        n = len(self.rows)
        if n == 0 or len(self.post_doc) == 0:
            return np.zeros(0, np.float32)
        k1, b = self.params.k1, self.params.b
        df = np.diff(self.indptr).astype(np.float64)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        term_of_posting = np.repeat(np.arange(len(df)), np.diff(self.indptr))
        avgdl = float(self.doc_len.mean()) or 1.0
        tf = self.post_tf.astype(np.float64)
        norm = k1 * (1.0 - b + b * self.doc_len[self.post_doc] / avgdl)
        return (idf[term_of_posting] * tf / (tf + norm)).astype(np.float32)

    def idf(self, tokens: Sequence[str]) -> np.ndarray:
        """Each analysed token's inverse document frequency (the weight BM25 gives it); a
        token no chunk contains gets ``inf``.

        >>> idx = BM25Index.empty().apply(add_rows=[0, 1], add_tokens=[["cat"], ["dog", "cat"]])
        >>> idx.idf(["cat", "dog", "emu"]).round(3).tolist()
        [0.182, 0.693, inf]
        """
        n = len(self.rows)
        out = np.full(len(tokens), np.inf)
        for i, token in enumerate(tokens):
            term = self.term_ids.get(token)
            if term is not None:
                df = float(self.indptr[term + 1] - self.indptr[term])
                if df > 0:
                    out[i] = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        return out

    def apply(
        self,
        delete_rows: Sequence[int] | np.ndarray = (),
        add_rows: Sequence[int] | np.ndarray = (),
        add_tokens: Sequence[Sequence[str]] = (),
    ) -> "BM25Index":
        """A new index without ``delete_rows`` and with the given analysed chunks added."""
        add_rows = np.asarray(add_rows, dtype=np.int64)
        if len(add_rows) != len(add_tokens):
            raise InvalidInputError("add_rows and add_tokens must have the same length")
        keep = ~np.isin(self.rows, np.asarray(delete_rows, dtype=np.int64))
        new_local = np.cumsum(keep) - 1
        old_terms = np.repeat(np.arange(len(self.vocab), dtype=np.int64), np.diff(self.indptr))
        kept_post = keep[self.post_doc] if len(self.post_doc) else np.zeros(0, bool)

        vocab = list(self.vocab)
        term_ids = dict(self.term_ids)
        base = int(keep.sum())
        terms, docs, tfs, lengths = [], [], [], []
        for i, tokens in enumerate(add_tokens):
            lengths.append(len(tokens))
            for term, count in Counter(tokens).items():
                tid = term_ids.get(term)
                if tid is None:
                    tid = term_ids[term] = len(vocab)
                    vocab.append(term)
                terms.append(tid)
                docs.append(base + i)
                tfs.append(count)

        all_terms = np.concatenate([old_terms[kept_post], np.asarray(terms, np.int64)])
        all_docs = np.concatenate([new_local[self.post_doc[kept_post]], np.asarray(docs, np.int64)])
        all_tfs = np.concatenate([self.post_tf[kept_post], np.asarray(tfs, np.int32)])
        rows = np.concatenate([self.rows[keep], add_rows])
        doc_len = np.concatenate([self.doc_len[keep], np.asarray(lengths, np.int32)])
        if len(rows) > 1 and np.any(np.diff(rows) <= 0):  # keep rows sorted and unique
            order = np.argsort(rows, kind="stable")
            if np.any(np.diff(rows[order]) == 0):
                raise InvalidInputError("a chunk row was added twice to the BM25 index")
            inverse = np.empty_like(order)
            inverse[order] = np.arange(len(order))
            rows, doc_len, all_docs = rows[order], doc_len[order], inverse[all_docs]
        order = np.lexsort((all_docs, all_terms))
        indptr = np.zeros(len(vocab) + 1, np.int64)
        np.cumsum(np.bincount(all_terms, minlength=len(vocab)), out=indptr[1:])
        return BM25Index(vocab, rows, doc_len.astype(np.int32), indptr,
                         all_docs[order].astype(np.int32), all_tfs[order].astype(np.int32),
                         self.params)

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every indexed chunk (by position) for the analysed query (summed
        in float64, so a batch's sparse product ranks exactly as one query at a time does)."""
        out = np.zeros(len(self.rows), np.float64)
        for term, count in Counter(tokens).items():
            tid = self.term_ids.get(term)
            if tid is None:
                continue
            lo, hi = self.indptr[tid], self.indptr[tid + 1]
            w = self.weights[lo:hi]
            out[self.post_doc[lo:hi]] += w if count == 1 else w * count
        return out

    def scores_within(self, tokens: Sequence[str], allowed: np.ndarray) -> np.ndarray:
        """BM25 scores with the statistics (chunk count, document frequencies, average
        length) of the ``allowed`` positions alone: the scores an index holding only those
        chunks would give, so nothing outside them (another tenant's text) moves a score.

        >>> idx = BM25Index.empty().apply(add_rows=[0, 1, 2], add_tokens=[["cat"], ["cat", "dog"], ["cat"]])
        >>> alone = BM25Index.empty().apply(add_rows=[0, 1], add_tokens=[["cat"], ["cat", "dog"]])
        >>> bool(np.allclose(idx.scores_within(["cat", "dog"], np.array([0, 1]))[:2], alone.scores(["cat", "dog"])))
        True
        """
        out = np.zeros(len(self.rows), np.float64)  # as scores() sums: float32 weights, float64 sums
        n = len(allowed)
        if n == 0:
            return out
        inside = np.zeros(len(self.rows), dtype=bool)
        inside[allowed] = True
        k1, b = self.params.k1, self.params.b
        avgdl = float(self.doc_len[allowed].mean()) or 1.0
        for term, count in Counter(tokens).items():
            tid = self.term_ids.get(term)
            if tid is None:
                continue
            lo, hi = self.indptr[tid], self.indptr[tid + 1]
            keep = inside[self.post_doc[lo:hi]]
            docs = self.post_doc[lo:hi][keep]
            if len(docs) == 0:
                continue
            tf = self.post_tf[lo:hi][keep].astype(np.float64)
            idf = np.log(1.0 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            weights = (idf * tf / (tf + k1 * (1.0 - b + b * self.doc_len[docs] / avgdl))).astype(np.float32)
            out[docs] += weights if count == 1 else weights * count
        return out

    def top_k(
        self, tokens: Sequence[str], k: int, allowed: np.ndarray | None = None,
        statistics: str = "collection",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions and scores of the best ``k`` chunks among ``allowed`` positions.

        Filtering happens before ranking, so ``min(k, len(allowed))`` results come back.
        ``statistics="filtered"`` scores with the allowed chunks' statistics alone
        (:meth:`scores_within`); ``"collection"`` with the whole index's.
        """
        if statistics not in BM25_STATISTICS:
            raise InvalidInputError(f"statistics must be one of {BM25_STATISTICS}, got {statistics!r}")
        scores = self.scores_within(tokens, allowed) if statistics == "filtered" and allowed is not None \
            else self.scores(tokens)
        candidates = np.arange(len(scores)) if allowed is None else allowed
        sub = scores[candidates]
        k = min(k, len(sub))
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        top = np.argpartition(-sub, k - 1)[:k] if k < len(sub) else np.arange(len(sub))
        # highest score first; ties broken by position for determinism
        top = top[np.lexsort((candidates[top], -sub[top]))]
        return candidates[top], sub[top].astype(np.float32)

    def save(self, directory: Path, analyzer: Analyzer) -> list[str]:
        meta = {"k1": self.params.k1, "b": self.params.b, "analyzer": analyzer.config(),
                "vocab": self.vocab}
        (directory / "bm25.json").write_text(json.dumps(meta))
        for name, array in zip(_FILES[1:], (self.rows, self.doc_len, self.indptr,
                                            self.post_doc, self.post_tf)):
            np.save(directory / name, array, allow_pickle=False)
        return list(_FILES)

    @classmethod
    def load(cls, directory: Path) -> tuple["BM25Index", Analyzer]:
        meta = json.loads((directory / "bm25.json").read_text())
        arrays = [np.load(directory / name, allow_pickle=False) for name in _FILES[1:]]
        index = cls(meta["vocab"], *arrays, params=BM25Params(meta["k1"], meta["b"]))
        return index, Analyzer.from_config(meta["analyzer"])


def analyze_many(analyzer: Analyzer, texts: Sequence[str], show_progress: bool | None = None) -> list[list[str]]:
    """Tokenise many texts with a progress bar for large batches."""
    if len(texts) < 2000:
        return [analyzer.tokenize(t) for t in texts]
    out = []
    with progress_bar(len(texts), "BM25 analysing", show=show_progress, unit="chunk") as bar:
        for t in texts:
            out.append(analyzer.tokenize(t))
            bar.update(1)
    return out
