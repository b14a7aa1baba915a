"""Training the learned router from a labeled split: run every route on every query,
label each query with its best route by nDCG@10, fit a logistic regression, and choose
below which confidence it fuses its top two routes (``fuse_below``) on how it decides
queries it was not fitted on.

Labels come from the data, not from anyone's opinion of which memory suits a query.
Ties go to the cheaper route (earlier in :data:`ROUTES`), so the router never pays for
the graph when BM25 did as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from rag_plugins._progress import progress_bar
from rag_plugins.errors import InvalidInputError
from rag_plugins.retrievers.catalog import CATALOG
from rag_plugins.routing.decision import ROUTE_FUSION, ROUTES, RouteDecision, fuse_if_unsure
from rag_plugins.routing.features import QueryAnalyzer, QueryFeatures
from rag_plugins.routing.learned import LearnedRouter, feature_matrix
from rag_plugins.types import Hit

if TYPE_CHECKING:
    from rag_plugins.eval.beir import BeirDataset
    from rag_plugins.store.knowledge_base import KnowledgeBase

C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
FUSE_GRID = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7)


def available_routes(kb: "KnowledgeBase") -> tuple[str, ...]:
    """The routes ``kb`` has the indexes for: BM25 always, dense and hybrid with vectors,
    the graph routes with a knowledge graph (:meth:`RetrieverCatalog.available`)."""
    return CATALOG.available(kb, routes_only=True)


def oracle_labels(route_scores: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """Per query (row), the index of its best route (column); ties go to the lowest index.

    >>> oracle_labels(np.array([[0.5, 0.9, 0.9], [1.0, 1.0, 0.2]])).tolist()
    [1, 0]
    """
    scores = np.asarray(route_scores, dtype=np.float64)
    best = scores.max(axis=1, keepdims=True)
    return np.argmax(scores >= best - tolerance, axis=1)


def route_scores(kb: "KnowledgeBase", dataset: "BeirDataset", routes: Sequence[str], k: int = 10,
                 show_progress: bool | None = None) -> tuple[list[str], np.ndarray]:
    """nDCG@``k`` of every route on every judged query: (query ids, matrix queries × routes)."""
    qids, scores, _ = route_runs(kb, dataset, routes, k, show_progress)
    return qids, scores


def route_runs(kb: "KnowledgeBase", dataset: "BeirDataset", routes: Sequence[str], k: int = 10,
               show_progress: bool | None = None) -> tuple[list[str], np.ndarray, dict[str, list[list[Hit]]]]:
    """:func:`route_scores` plus each route's hits (``3 * k`` chunks) per query, in query order."""
    qids = [q for q in dataset.queries if dataset.qrels.get(q)]
    if not qids:
        raise InvalidInputError("the split has no judged queries to learn routes from")
    out = np.zeros((len(qids), len(routes)))
    hits: dict[str, list[list[Hit]]] = {}
    with progress_bar(len(qids) * len(routes), "Running every route", show=show_progress, unit="query") as bar:
        for j, route in enumerate(routes):
            retriever = kb.retriever(route)
            hits[route] = []
            for i, qid in enumerate(qids):
                hits[route].append(retriever.retrieve(dataset.queries[qid], k=3 * k))
                out[i, j] = _ndcg(hits[route][-1], dataset.qrels[qid], k)
                bar.update(1)
    return qids, out, hits


def _ndcg(hits: Sequence[Hit], qrels: Mapping[str, int], k: int = 10) -> float:
    from rag_plugins.eval.metrics import ndcg_at_k
    from rag_plugins.eval.runner import documents_in_order

    return ndcg_at_k([d for d, _ in documents_in_order(hits, k)], qrels, k)


def out_of_fold_decisions(features: Sequence[QueryFeatures], scores: np.ndarray, routes: Sequence[str], *,
                          folds: int = 5, seed: int = 1, **fit_options: Any) -> list[RouteDecision]:
    """Each query decided by a router fitted on the other folds: how the router decides
    queries it has not seen, which is what its ``fuse_below`` should be chosen on."""
    fold_of = np.random.default_rng(seed).permutation(len(features)) % folds
    decisions: list[RouteDecision | None] = [None] * len(features)
    for f in range(folds):
        train = np.flatnonzero(fold_of != f)
        router = fit_router([features[i] for i in train], np.asarray(scores)[train], routes, **fit_options)
        for i in np.flatnonzero(fold_of == f):
            decisions[i] = router.decide(features[i], routes)
    return decisions  # type: ignore[return-value]


def choose_fuse_below(decisions: Sequence[RouteDecision], hits: Mapping[str, Sequence[Sequence[Hit]]],
                      qrels: Sequence[Mapping[str, int]], retrievers: Mapping[str, Any],
                      grid: Sequence[float] = FUSE_GRID, k: int = 10) -> tuple[float, dict[str, float]]:
    """The ``fuse_below`` whose decisions reach the best mean nDCG@``k`` on these queries
    (ties: the lower threshold, which fuses less), replaying :class:`RoutedRetriever`'s
    fusion over each route's cached ``hits``; and the mean per threshold."""
    from rag_plugins.retrievers.hybrid import HybridRetriever

    routes = tuple(hits)
    table = {}
    for threshold in grid:
        achieved = []
        for i, decision in enumerate(decisions):
            decided = fuse_if_unsure(decision, threshold, routes)
            if decided.fused:
                fusion = HybridRetriever({r: retrievers[r] for r in decided.routes}, method=ROUTE_FUSION,
                                         weights=dict(decided.routes), name="routed")
                found = fusion.fuse({r: list(hits[r][i]) for r in decided.routes}, 3 * k)
            else:
                found = hits[decided.route][i]
            achieved.append(_ndcg(found, qrels[i], k))
        table[str(threshold)] = round(float(np.mean(achieved)), 4)
    return max(grid, key=lambda t: (table[str(t)], -t)), table


def fit_router(features: Sequence[QueryFeatures], scores: np.ndarray, routes: Sequence[str], *,
               use_embedding: bool = True, c_grid: Sequence[float] = C_GRID, folds: int = 5, seed: int = 0,
               tolerance: float = 0.0, embedding: dict[str, Any] | None = None,
               rare_idf: float = 6.0) -> LearnedRouter:
    """Fit the router on per-query route scores (rows of ``scores`` align with ``features``).

    Queries where every route scored the same teach nothing and are left out. Each other
    query is a training example for every route that tied for its best score (sharing the
    query's weight), and weighs by how much choosing well matters (best minus mean score).
    The regularisation ``C`` is the one whose cross-validated routing reaches the highest
    mean score.
    """
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # pragma: no cover - sklearn comes with sentence-transformers
        raise InvalidInputError("training a router needs scikit-learn: pip install scikit-learn") from exc
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(features), len(routes)):
        raise InvalidInputError(f"scores must be queries × routes = {(len(features), len(routes))}, got {scores.shape}")
    x = feature_matrix(features, use_embedding)
    labels = oracle_labels(scores)
    informative = scores.max(axis=1) - scores.min(axis=1) > 1e-9
    present = np.unique(labels[informative])
    if informative.sum() < 4 or len(present) < 2:
        raise InvalidInputError(
            f"only {int(informative.sum())} queries tell routes apart (best route in {len(present)} "
            f"class(es)); a learned router needs more labeled queries where routes differ"
        )
    folds = max(2, min(folds, int(informative.sum()) // 2))
    weight = scores.max(axis=1) - scores.mean(axis=1)
    mean = x[informative].mean(axis=0)
    scale = x[informative].std(axis=0)
    scale[scale < 1e-12] = 1.0
    z = (x - mean) / scale

    best = scores >= scores.max(axis=1, keepdims=True) - max(tolerance, 1e-9)

    def fit(rows: np.ndarray, c: float) -> Any:
        query, route = np.nonzero(best[rows])
        query = rows[query]
        share = weight[query]
        model = LogisticRegression(C=c, max_iter=5000)
        model.fit(z[query], route, sample_weight=share)
        return model

    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(len(features)) % folds
    cv: dict[float, float] = {}
    for c in c_grid:
        achieved = np.zeros(len(features))
        for f in range(folds):
            train = np.flatnonzero((fold_of != f) & informative)
            test = np.flatnonzero(fold_of == f)
            model = fit(train, c)
            chosen = model.classes_[model.predict_proba(z[test]).argmax(axis=1)]
            achieved[test] = scores[test, chosen]
        cv[c] = float(achieved.mean())
    best_c = max(c_grid, key=lambda c: (cv[c], -c))
    model = fit(np.flatnonzero(informative), best_c)
    coef = np.full((len(routes), x.shape[1]), 0.0)
    intercept = np.full(len(routes), -1e3)  # a route that was never best is never chosen
    for row, cls in enumerate(model.classes_):
        if len(model.classes_) == 2:  # binary logistic regression keeps one row
            sign = 1.0 if row == 1 else -1.0
            coef[cls], intercept[cls] = sign * model.coef_[0] / 2, sign * model.intercept_[0] / 2
        else:
            coef[cls], intercept[cls] = model.coef_[row], model.intercept_[row]
    counts = np.bincount(labels, minlength=len(routes))
    metadata = {
        "queries": len(features), "informative_queries": int(informative.sum()),
        "oracle_labels": {r: int(counts[i]) for i, r in enumerate(routes)},
        "c": best_c, "cv_mean_score": {str(c): round(v, 4) for c, v in cv.items()},
        "route_mean_score": {r: round(float(scores[:, i].mean()), 4) for i, r in enumerate(routes)},
        "oracle_mean_score": round(float(scores.max(axis=1).mean()), 4),
    }
    return LearnedRouter(routes, coef, intercept, mean, scale, use_embedding, embedding, rare_idf, metadata)


def train_router(kb: "KnowledgeBase", dataset: "BeirDataset", routes: Sequence[str] | None = None, *,
                 use_embedding: bool = True, rare_idf: float = 6.0, show_progress: bool | None = None,
                 **fit_options: Any) -> LearnedRouter:
    """Label ``dataset``'s queries by running every route on ``kb``, then fit the router.

    ``dataset`` is a labeled split (e.g. ``load_beir(dir, "train")``) whose corpus ``kb``
    holds. Routes default to every route ``kb`` can serve.
    """
    routes = tuple(routes or available_routes(kb))
    unknown = [r for r in routes if r not in ROUTES]
    if unknown:
        raise InvalidInputError(f"unknown routes {unknown}; choose from {list(ROUTES)}")
    if use_embedding and kb.embedder is None:
        raise InvalidInputError("the learned router reads query embeddings, but this knowledge base has no "
                                "embedder; pass use_embedding=False or index with an embedding model")
    qids, scores, hits = route_runs(kb, dataset, routes, show_progress=show_progress)
    features = query_features(kb, [dataset.queries[q] for q in qids], use_embedding, rare_idf)
    options = dict(use_embedding=use_embedding, rare_idf=rare_idf, **fit_options)
    router = fit_router(features, scores, routes, embedding=embedding_info(kb), **options)
    try:
        decisions = out_of_fold_decisions(features, scores, routes, **options)
        chosen_on = "out-of-fold decisions"
    except InvalidInputError:  # too few queries to fit a router per fold: decide with the router itself
        decisions = [router.decide(f, routes) for f in features]
        chosen_on = "the router's own decisions (too few queries for folds)"
    retrievers = {r: kb.retriever(r) for r in routes}
    router.fuse_below, table = choose_fuse_below(decisions, hits, [dataset.qrels[q] for q in qids], retrievers)
    router.metadata.update(fuse_below=router.fuse_below, fuse_below_mean_score=table, fuse_below_chosen_on=chosen_on)
    return router


def query_features(kb: "KnowledgeBase", queries: Sequence[str], use_embedding: bool = True,
                   rare_idf: float = 6.0) -> list[QueryFeatures]:
    """The learned router's input for ``queries`` (embedded in one batch when asked)."""
    analyzer = QueryAnalyzer(kb, rare_idf=rare_idf)
    features = [analyzer.features(q) for q in queries]
    if use_embedding:
        features = [f.with_embedding(v) for f, v in zip(features, kb.embed_queries(list(queries)))]
    return features


def embedding_info(kb: "KnowledgeBase") -> dict[str, Any] | None:
    """Which model a router trained on ``kb``'s query embeddings expects."""
    if kb.embedder is None:
        return None
    settings = kb.settings["embedding"]
    return {key: settings[key] for key in ("model_id", "fingerprint", "dimension")}
