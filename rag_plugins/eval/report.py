"""``rag-plugins eval ... --report report.html``: an evaluation as one page of plots.

Recall@k for every k up to the run's depth (beside a baseline run's, when given), the
per-query nDCG@10 wins and losses against that baseline with the worst losses by their
text, the latency distribution, the router's decisions and its confusion matrix against the
best route per query, and, with a confidence file, the reliability diagram and the
risk-coverage curve. Needs matplotlib (``[report]``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from rag_plugins.errors import InvalidInputError
from rag_plugins.eval.metrics import ndcg_at_k, recall_at_k
from rag_plugins.ops import html_page

Run = Mapping[str, Sequence[str]]


def read_trec_run(path: str | Path) -> dict[str, list[str]]:
    """A TREC run file (``qid Q0 docid rank score tag``) as ranked document ids per query."""
    ranked: dict[str, list[tuple[int, str]]] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError) as exc:
        raise InvalidInputError(f"cannot read the run file {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 4 or not parts[3].lstrip("-").isdigit():
            raise InvalidInputError(f"{path}:{number} is not a TREC run line (qid Q0 docid rank score tag)")
        ranked.setdefault(parts[0], []).append((int(parts[3]), parts[2]))
    return {q: [d for _, d in sorted(rows)] for q, rows in ranked.items()}


def build_eval_report(metrics: Mapping[str, Any], run: Run, queries: Mapping[str, str],
                      qrels: Mapping[str, Mapping[str, int]], latencies: Sequence[float], *,
                      baseline: Run | None = None, baseline_name: str = "baseline",
                      confidence: Sequence[float] = (), labels: Sequence[int] = ()) -> str:
    plt = html_page.pyplot("the eval report's plots")
    config = metrics.get("config", {})
    name = config.get("retriever", "run")
    sections = [_summary(metrics), _recall_curves(run, qrels, name, baseline, baseline_name, plt)]
    if baseline is not None:
        sections.append(_wins_and_losses(run, baseline, queries, qrels, name, baseline_name, plt))
    sections.append(_latency(latencies, plt))
    if metrics.get("routing", {}).get("decisions"):
        sections.append(_routing(metrics["routing"]["decisions"], plt))
    if metrics.get("routing", {}).get("confusion_vs_oracle"):
        sections.append(_confusion(metrics["routing"]["confusion_vs_oracle"], plt))
    if len(confidence):
        sections.append(_confidence(confidence, labels, plt))
    title = f"Evaluation: {name} on {Path(str(config.get('dataset', ''))).name} ({config.get('split', '')})"
    return html_page.page(title, sections, "rag-plugins eval --report")


def _summary(metrics: Mapping[str, Any]) -> str:
    timings = metrics.get("timings", {})
    rows = [(key, f"{metrics[key]:.3f}") for key in ("ndcg@10", "recall@5", "recall@10", "recall_all@5", "mrr@10")
            if key in metrics]
    rows += [("queries", str(metrics.get("n_queries", ""))),
             ("latency p50 / p95", f"{timings.get('p50_ms', float('nan')):.1f} / {timings.get('p95_ms', float('nan')):.1f} ms"
                                   " (batch time per query)")]
    return f"<section><h2>Summary</h2>{html_page.table(rows)}</section>"


def _recall_curves(run: Run, qrels: Mapping, name: str, baseline: Run | None, baseline_name: str, plt: Any) -> str:
    figure, axes = plt.subplots(figsize=(8, 3.2))
    depth = max((len(v) for v in run.values()), default=1)
    ks = np.unique(np.geomspace(1, max(depth, 1), num=min(depth, 30)).astype(int))
    for label, ranked in ((name, run), (baseline_name, baseline)):
        if ranked is None:
            continue
        values = [np.mean([recall_at_k(list(ranked.get(q, [])), judged, int(k)) for q, judged in qrels.items()])
                  for k in ks]
        axes.plot(ks, values, marker="o", markersize=3, label=label)
    axes.set_xscale("log")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    axes.xaxis.set_major_formatter(ScalarFormatter())
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("k")
    axes.set_ylabel("recall@k")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return f"<section><h2>Recall@k</h2>{html_page.png(figure, plt, 'recall at k')}</section>"


def _wins_and_losses(run: Run, baseline: Run, queries: Mapping[str, str], qrels: Mapping, name: str,
                     baseline_name: str, plt: Any) -> str:
    deltas = {q: ndcg_at_k(list(run.get(q, [])), judged, 10) - ndcg_at_k(list(baseline.get(q, [])), judged, 10)
              for q, judged in qrels.items()}
    values = np.sort(np.asarray(list(deltas.values())))
    figure, axes = plt.subplots(figsize=(8, 3))
    axes.bar(np.arange(len(values)), values, width=1.0,
             color=["#d62728" if v < 0 else "#2ca02c" if v > 0 else "#999999" for v in values])
    axes.axhline(0, color="black", linewidth=0.6)
    axes.set_xlabel("queries, sorted")
    axes.set_ylabel(f"nDCG@10: {name} − {baseline_name}")
    wins, losses = int((values > 0).sum()), int((values < 0).sum())
    worst = sorted(deltas.items(), key=lambda kv: kv[1])[:10]
    items = "".join(f"<li>{html.escape(queries.get(q, q))}: {d:+.3f}</li>" for q, d in worst if d < 0)
    text = (f"<p>{wins} queries better, {losses} worse, {len(values) - wins - losses} unchanged; mean "
            f"{values.mean():+.3f}.</p>" + (f"<h3>The largest losses</h3><ul>{items}</ul>" if items else ""))
    return (f"<section><h2>Per-query wins and losses against {html.escape(baseline_name)}</h2>"
            f"{html_page.png(figure, plt, 'per-query nDCG differences')}{text}</section>")


def _latency(latencies: Sequence[float], plt: Any) -> str:
    figure, axes = plt.subplots(figsize=(8, 3))
    axes.hist(np.asarray(latencies) * 1000.0, bins=30)
    axes.set_xlabel("ms per query (each batch's time over its queries)")
    axes.set_ylabel("queries")
    return f"<section><h2>Latency</h2>{html_page.png(figure, plt, 'latency histogram')}</section>"


def _routing(decisions: Mapping[str, int], plt: Any) -> str:
    figure, axes = plt.subplots(figsize=(8, 2.8))
    names = list(decisions)
    axes.barh(names, [decisions[n] for n in names])
    axes.invert_yaxis()
    axes.set_xlabel("queries")
    return (f"<section><h2>Router decisions</h2>{html_page.png(figure, plt, 'router decisions')}"
            "<p>Routes chosen, by query count.</p></section>")


def _confusion(confusion: Mapping[str, Any], plt: Any) -> str:
    names = list(confusion["routes"])
    counts = np.array([[confusion["matrix"][o][c] for c in names] for o in names])
    figure, axes = plt.subplots(figsize=(4.8 + 0.4 * len(names), 1.6 + 0.6 * len(names)))
    axes.imshow(counts, cmap="Blues")
    for (i, j), n in np.ndenumerate(counts):
        axes.text(j, i, str(n), ha="center", va="center", color="white" if n > counts.max() / 2 else "black")
    axes.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("route the router chose first")
    axes.set_ylabel("best route (oracle, nDCG@10)")
    share = confusion.get("picked_a_best_route")
    text = (f"<p>Over {confusion['informative']} queries where the routes score differently "
            f"({confusion['ties']} more tie), the router chose a best route for "
            f"{'n/a' if share is None else f'{share:.0%}'}; it gave up {confusion['mean_ndcg_given_up']:.3f} "
            f"nDCG@10 on average against always choosing the best route ({confusion['oracle_ndcg']:.3f}).</p>")
    return (f"<section><h2>Router against the best route</h2>"
            f"{html_page.png(figure, plt, 'router confusion matrix')}{text}</section>")


def _confidence(confidence: Sequence[float], labels: Sequence[int], plt: Any) -> str:
    from rag_plugins.eval.calibration import risk_coverage

    c, y = np.asarray(confidence, float), np.asarray(labels, float)
    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    edges = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(c, edges) - 1, 0, 9)
    shown = [b for b in range(10) if (which == b).any()]
    left.plot([0, 1], [0, 1], color="#999999", linewidth=0.8, linestyle="--")
    left.plot([c[which == b].mean() for b in shown], [y[which == b].mean() for b in shown], marker="o")
    left.set_xlabel("confidence")
    left.set_ylabel("share relevant")
    left.set_title("Reliability", fontsize=9)
    curve = risk_coverage(c, y, coverages=tuple(np.linspace(1.0, 0.1, 19)))
    right.plot([p["coverage"] for p in curve], [p["risk"] for p in curve], marker="o", markersize=3)
    right.set_xlabel("coverage")
    right.set_ylabel("risk")
    right.set_title("Risk-coverage", fontsize=9)
    return (f"<section><h2>Confidence</h2>{html_page.png(figure, plt, 'reliability and risk-coverage')}"
            "</section>")
