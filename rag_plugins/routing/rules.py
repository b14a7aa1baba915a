"""The rule router: a few readable rules over :class:`QueryFeatures`, no model call."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rag_plugins._validation import check_count, check_number
from rag_plugins.errors import InvalidInputError
from rag_plugins.routing.decision import RouteDecision
from rag_plugins.routing.features import QueryFeatures


@dataclass(frozen=True)
class RuleThresholds:
    """When each rule fires, and how sure it is.

    - ``exact_signals``: quoted phrases + identifiers + section references that send a
      query to BM25;
    - ``rare_terms`` / ``short_query``: this many rare terms (IDF ≥ the analyzer's
      ``rare_idf``) in a query of at most ``short_query`` words also go to BM25;
    - ``graph_entities``: linked entities that, with a relational cue or a question, send
      a query to the graph;
    - ``long_query``: a query at least this long with no rare term goes to dense vectors;
    - the ``*_confidence`` values are what each rule reports (below the retriever's
      ``fuse_below``, the top two routes run and are fused).
    """

    exact_signals: int = 1
    rare_terms: int = 2
    short_query: int = 6
    graph_entities: int = 2
    long_query: int = 16
    exact_confidence: float = 0.9
    rare_confidence: float = 0.75
    graph_confidence: float = 0.8
    dense_confidence: float = 0.6
    default_confidence: float = 0.6

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name.endswith("_confidence"):
                check_number(value, name, 0.0, 1.0)
            else:
                check_count(value, name)


def _quote(items: tuple[str, ...], limit: int = 3) -> str:
    shown = ", ".join(f'"{i}"' for i in items[:limit])
    return shown + (f" (+{len(items) - limit})" if len(items) > limit else "")


class RuleRouter:
    """Routes by explainable query features; every decision says which rule fired.

    Rules, first match wins: exact signals (quoted phrases, identifiers, codes, section
    references) → ``bm25``; several rare terms in a short query → ``bm25``; two or more
    linked entities with relational wording or a question → the graph (``graph+hybrid``
    when offered, else ``graph``); a long query without rare terms → ``dense``; anything
    else → ``hybrid``. The runner-up route gets the remaining confidence, so an unsure
    decision can be fused.

    >>> from rag_plugins.routing.features import QueryFeatures
    >>> d = RuleRouter().decide(QueryFeatures.of('what does "ERR_CONN_RESET" mean'), ("bm25", "dense", "hybrid"))
    >>> d.route, d.reasons[0]
    ('bm25', 'quoted phrase "ERR_CONN_RESET" → bm25')
    """

    name = "rules"
    needs_embedding = False
    # fusing the runner-up never helped the rules on ../shared/data/mixed train (benchmarks/mixed_router.py)
    fuse_below = 0.0

    def __init__(self, thresholds: RuleThresholds | None = None):
        self.thresholds = thresholds or RuleThresholds()

    def decide(self, features: QueryFeatures, routes: tuple[str, ...]) -> RouteDecision:
        if not routes:
            raise InvalidInputError("no routes to choose from")
        route, runner_up, confidence, reason = self._rule(features, routes)
        if route not in routes:  # e.g. a BM25-only base asked for dense
            fallback = "hybrid" if "hybrid" in routes else routes[0]
            reason = f"{reason} (not offered here; {fallback} instead)"
            route = fallback
        if runner_up not in routes or runner_up == route:
            runner_up = next((r for r in ("hybrid", "bm25", "dense") if r in routes and r != route), None)
        scores = {route: confidence}
        if runner_up is not None:
            scores[runner_up] = 1.0 - confidence
        return RouteDecision({route: 1.0}, confidence, (reason,), self.name, scores)

    def _rule(self, f: QueryFeatures, routes: tuple[str, ...]) -> tuple[str, str, float, str]:
        t = self.thresholds
        exact = []
        if f.quoted:
            exact.append(f"quoted phrase {_quote(f.quoted)}")
        if f.identifiers:
            exact.append(f"identifier {_quote(f.identifiers)}")
        if f.section_refs:
            exact.append(f"section reference {_quote(f.section_refs)}")
        count = len(f.quoted) + len(f.identifiers) + len(f.section_refs)
        if count >= t.exact_signals:
            if f.rare_terms:
                exact.append(f"rare terms {_quote(f.rare_terms)}")
            return "bm25", "hybrid", t.exact_confidence, " + ".join(exact) + " → bm25"
        if len(f.rare_terms) >= t.rare_terms and f.words <= t.short_query:
            return ("bm25", "hybrid", t.rare_confidence,
                    f"short query ({f.words} words) with rare terms {_quote(f.rare_terms)} → bm25")
        graph = "graph+hybrid" if "graph+hybrid" in routes else "graph"
        if len(f.entities) >= t.graph_entities and (f.relational_cues or f.question) and graph in routes:
            cue = (f"relational cue {_quote(f.relational_cues)}" if f.relational_cues else "a question")
            return (graph, "hybrid", t.graph_confidence,
                    f"{len(f.entities)} linked entities ({_quote(f.entities)}) + {cue} → {graph}")
        if f.words >= t.long_query and not f.rare_terms:
            return ("dense", "hybrid", t.dense_confidence,
                    f"long descriptive query ({f.words} words), no rare terms → dense")
        parts = [f"{f.words} words"]
        if f.rare_terms:
            parts.append(f"{len(f.rare_terms)} rare terms")
        if f.entities:
            parts.append(f"{len(f.entities)} linked entities")
        runner_up = "bm25" if f.rare_terms else "dense"
        return "hybrid", runner_up, t.default_confidence, f"no decisive signal ({', '.join(parts)}) → hybrid"
