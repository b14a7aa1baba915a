"""The learned router: multinomial logistic regression over the query embedding and the
rule features, stored as JSON plus one ``.npy`` (never pickled)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from rag_plugins.errors import InvalidInputError
from rag_plugins.routing.decision import RouteDecision
from rag_plugins.routing.features import QueryFeatures

UNTUNED_FUSE_BELOW = 0.5  # what RoutedRetriever used before routers chose their own

CONFIG_FILE = "router.json"
WEIGHTS_FILE = "weights.npy"
FORMAT = "rag-plugins-learned-router/1"


def feature_matrix(features: Sequence[QueryFeatures], use_embedding: bool = True) -> np.ndarray:
    """Rows of ``[embedding, rule features]`` (the learned router's input)."""
    rows = []
    for f in features:
        parts = [f.vector()]
        if use_embedding:
            if f.embedding is None:
                raise InvalidInputError("the learned router reads the query embedding; compute features "
                                        "with QueryAnalyzer.features(query, embed=True)")
            parts.insert(0, np.asarray(f.embedding, dtype=np.float64))
        rows.append(np.concatenate(parts))
    return np.vstack(rows)


class LearnedRouter:
    """Chooses the route a logistic regression, trained on which route served similar
    queries best, gives the highest probability. Its confidence is that probability; its
    reasons name the probabilities and the rule features that pushed hardest.

    Train it with :func:`rag_plugins.routing.training.train_router` or ``rag-plugins
    train-router``; load it with :meth:`load`.

    >>> import numpy as np
    >>> from rag_plugins.routing.features import QueryFeatures
    >>> n = len(QueryFeatures.NAMES)
    >>> coef = np.zeros((2, n)); coef[0, QueryFeatures.NAMES.index("identifiers")] = 3.0
    >>> router = LearnedRouter(("bm25", "dense"), coef, np.zeros(2), np.zeros(n), np.ones(n),
    ...                        use_embedding=False)
    >>> router.decide(QueryFeatures.of("fix E404"), ("bm25", "dense")).route
    'bm25'
    """

    name = "learned"

    def __init__(self, routes: Sequence[str], coef: np.ndarray, intercept: np.ndarray, mean: np.ndarray,
                 scale: np.ndarray, use_embedding: bool = True, embedding: Mapping[str, Any] | None = None,
                 rare_idf: float = 6.0, metadata: Mapping[str, Any] | None = None):
        self.routes = tuple(routes)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.use_embedding = use_embedding
        self.embedding = dict(embedding or {})
        self.rare_idf = rare_idf
        self.metadata = dict(metadata or {})
        self.fuse_below = float(self.metadata.get("fuse_below", UNTUNED_FUSE_BELOW))
        """Below this confidence RoutedRetriever fuses the top two routes: chosen by
        :func:`~rag_plugins.routing.training.train_router` (0.5 for routers saved without one)."""
        width = self.mean.shape[0]
        if self.coef.shape != (len(self.routes), width) or self.intercept.shape != (len(self.routes),) \
                or self.scale.shape != (width,):
            raise InvalidInputError(
                f"inconsistent learned router: {len(self.routes)} routes, coef {self.coef.shape}, intercept "
                f"{self.intercept.shape}, mean {self.mean.shape}, scale {self.scale.shape}"
            )
        if len(self.routes) < 2:
            raise InvalidInputError("a learned router needs at least two routes")

    @property
    def needs_embedding(self) -> bool:
        return self.use_embedding

    def probabilities(self, features: QueryFeatures) -> np.ndarray:
        """P(route is best | query), in the order of :attr:`routes`."""
        x = feature_matrix([features], self.use_embedding)[0]
        if x.shape[0] != self.mean.shape[0]:
            raise InvalidInputError(
                f"the router expects {self.mean.shape[0]} features but got {x.shape[0]}: it was trained with "
                f"embedding model {self.embedding.get('model_id')!r} ({self.embedding.get('dimension')} dims); "
                "route with a knowledge base embedded by that model, or retrain the router on this one"
            )
        logits = self.coef @ ((x - self.mean) / self.scale) + self.intercept
        logits -= logits.max()
        p = np.exp(logits)
        return p / p.sum()

    def decide(self, features: QueryFeatures, routes: tuple[str, ...]) -> RouteDecision:
        offered = [i for i, r in enumerate(self.routes) if r in routes]
        if not offered:
            raise InvalidInputError(f"the router knows routes {list(self.routes)}, none of which is offered "
                                    f"({list(routes)}); retrain it for this knowledge base")
        p = self.probabilities(features)[offered]
        p = p / p.sum()
        names = [self.routes[i] for i in offered]
        order = np.argsort(-p, kind="stable")
        top = names[order[0]]
        ranked = ", ".join(f"p({names[i]})={p[i]:.2f}" for i in order[:3])
        reasons = [f"learned: {ranked} → {top}"]
        drivers = self._drivers(features, self.routes.index(top))
        if drivers:
            reasons.append("strongest rule features for " + top + ": " + ", ".join(drivers))
        return RouteDecision({top: 1.0}, float(p[order[0]]), tuple(reasons), self.name,
                             {names[i]: float(p[i]) for i in order})

    def _drivers(self, features: QueryFeatures, route: int, limit: int = 3) -> list[str]:
        """The rule features that raised this route's logit most (relative to the others)."""
        names = QueryFeatures.NAMES
        offset = self.coef.shape[1] - len(names)
        values = features.vector()
        x = (values - self.mean[offset:]) / self.scale[offset:]
        w = self.coef[route, offset:] - self.coef[:, offset:].mean(axis=0)
        push = w * x
        top = [i for i in np.argsort(-push) if push[i] > 0.05][:limit]
        return [f"{names[i]}={values[i]:.3g} (+{push[i]:.2f})" for i in top]

    # persistence ---------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``router.json`` and ``weights.npy`` (no pickle) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "format": FORMAT, "routes": list(self.routes), "feature_names": list(QueryFeatures.NAMES),
            "use_embedding": self.use_embedding, "embedding": self.embedding, "rare_idf": self.rare_idf,
            "intercept": self.intercept.tolist(), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "metadata": self.metadata,
        }
        tmp = directory / (WEIGHTS_FILE + ".tmp.npy")
        np.save(tmp, self.coef, allow_pickle=False)
        tmp.replace(directory / WEIGHTS_FILE)
        (directory / (CONFIG_FILE + ".tmp")).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (directory / (CONFIG_FILE + ".tmp")).replace(directory / CONFIG_FILE)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "LearnedRouter":
        directory = Path(directory)
        config_path = directory / CONFIG_FILE
        if not config_path.exists() or not (directory / WEIGHTS_FILE).exists():
            raise InvalidInputError(f"{directory} holds no learned router ({CONFIG_FILE} + {WEIGHTS_FILE}); "
                                    "train one with `rag-plugins train-router`")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{config_path} is not valid JSON ({exc}); retrain the router") from exc
        if config.get("format") != FORMAT:
            raise InvalidInputError(f"{config_path} has format {config.get('format')!r}, expected {FORMAT!r}")
        if list(config["feature_names"]) != list(QueryFeatures.NAMES):
            raise InvalidInputError(f"{config_path} was trained on other rule features "
                                    f"({config['feature_names']}); retrain it with this version")
        coef = np.load(directory / WEIGHTS_FILE, allow_pickle=False)
        return cls(config["routes"], coef, np.array(config["intercept"]), np.array(config["mean"]),
                   np.array(config["scale"]), config["use_embedding"], config.get("embedding"),
                   config.get("rare_idf", 6.0), config.get("metadata"))
