"""Draw the committed benchmark results as PNG figures.

    .venv/bin/python benchmarks/plots.py [--results benchmarks/results] [--output benchmarks/results/plots]

Reads only the committed result files, ``<results>/<name>.json``, each by its name; it never
opens ``results/work/`` (the gitignored cache of knowledge bases and models) and runs no
benchmark. Each figure comes from one results file: a missing file, or a file without a key the
figure needs, skips that figure with one line on stderr. Prints the path of every PNG written.

Exit status: 0 when every figure was drawn or skipped for a missing file or key; 1 when a
results file is not valid UTF-8 JSON (its figures are skipped too, and the others still drawn).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

HERE = Path(__file__).resolve().parent
WIDE = (8, 3.5)
DPI = 100
OURS, PEER, THIRD = "#1f77b4", "#ff7f0e", "#2ca02c"
BACKENDS = ("torch", "onnx", "onnx-int8")


class MalformedResults(Exception):
    """A results file that exists but is not valid UTF-8 JSON."""


def load(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MalformedResults(f"{path.name} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError:
        raise MalformedResults(f"{path.name} is not UTF-8 text") from None


def grouped_bars(ax, groups: list[str], series: dict[str, list[float]], fmt: str, colors=None) -> None:
    width = 0.8 / len(series)
    x = np.arange(len(groups))
    for i, (label, values) in enumerate(series.items()):
        color = colors[i] if colors else None
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label, color=color)
        ax.bar_label(bars, fmt=fmt, fontsize=7, padding=1)
    ax.set_xticks(x, groups)


def legend_above(ax, ncols: int) -> None:
    ax.legend(fontsize=8, ncols=ncols, loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False)


def paired_barh(ax, names: list, series: list, xlim: float, xlabel: str, fontsize: float) -> None:
    """Two horizontal bars per name, one per ``(label, values, color)`` in ``series``, best on top."""
    y = np.arange(len(names))
    for i, (label, values, color) in enumerate(series):
        bars = ax.barh(y + (i - 0.5) * 0.4, values, 0.4, label=label, color=color)
        ax.bar_label(bars, fmt="{:.3f}", fontsize=fontsize, padding=1)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, xlim)
    ax.set_xlabel(xlabel)
    legend_above(ax, len(series))


def bm25_speed(data: dict) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=WIDE, dpi=DPI, sharey=True)
    for ax, k in zip(axes, ("k=10", "k=100")):
        qps = data[k]["qps"]
        x = np.arange(2)
        ours = ax.bar(x - 0.2, [qps["ours_one"], qps["ours_batch"]], 0.4, color=OURS, label="rag-plugins")
        peer = ax.bar(x + 0.2, [qps["bm25s_one"], qps["bm25s_batch"]], 0.4, color=PEER, label="bm25s")
        kernel = ax.bar([2], [qps["kernel_one"]], 0.4, color="white", edgecolor=OURS, hatch="//",
                        label="kernel only (not user-facing)")
        for bars in (ours, peer, kernel):
            ax.bar_label(bars, fmt="{:,.0f}", fontsize=7, padding=1)
        ax.set_xticks([0, 1, 2], ["one at a time", "batched", "kernel,\none at a time"])
        ax.set_title(f"top {k.split('=')[1]}", fontsize=10)
        ax.set_ylim(0, max(qps.values()) * 1.15)
    axes[0].set_ylabel("queries per second")
    axes[1].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"BM25 query speed, SciFact test ({data.get('queries', 300)} queries, "
                 f"{data.get('chunks', 5538):,} chunks), higher is better", fontsize=10)
    fig.tight_layout()
    return fig


def encoders(data: dict) -> Figure:
    panels = [
        ("indexing, documents/s\n(higher is better)", "{:.1f}",
         [data["document_encoding"][b]["index_docs_per_s"] for b in BACKENDS]),
        ("dense query p50, ms\n(lower is better)", "{:.1f}",
         [data["query_latency"][b]["dense_p50_ms"] for b in BACKENDS]),
    ]
    if "cross_encoder" in data:
        cross = data["cross_encoder"]
        panels.append((f"rerank {cross.get('candidates', 50)} candidates, p50, s\n(lower is better)", "{:.2f}",
                       [cross[b]["rerank50_p50_ms"] / 1000 for b in BACKENDS]))
    fig, axes = plt.subplots(1, len(panels), figsize=WIDE, dpi=DPI)
    for ax, (label, fmt, values) in zip(axes, panels):
        bars = ax.bar(BACKENDS, values, color=[OURS, PEER, THIRD])
        ax.bar_label(bars, fmt=fmt, fontsize=8, padding=1)
        ax.set_ylim(0, max(values) * 1.18)
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"Encoder backends on CPU, SciFact test ({data.get('queries', 300)} queries)", fontsize=10)
    fig.tight_layout()
    return fig


def framework_hybrid(data: dict) -> Figure:
    fig, ax = plt.subplots(figsize=WIDE, dpi=DPI)
    systems = sorted(data, key=lambda name: data[name]["p50_ms"])
    offsets = [(6, 6), (6, -12), (6, 18)]
    for i, name in enumerate(systems):
        x, y = data[name]["p50_ms"], data[name]["ndcg@10"]
        color = OURS if name.startswith("rag-plugins") else PEER
        ax.scatter([x], [y], color=color, s=40, zorder=3)
        ax.annotate(f"{name} ({x:.1f} ms, {y:.3f})", (x, y), xytext=offsets[i % len(offsets)],
                    textcoords="offset points", fontsize=8)
    ax.set_xlim(0, max(data[name]["p50_ms"] for name in systems) * 1.35)
    lows = [data[name]["ndcg@10"] for name in systems]
    ax.set_ylim(min(lows) - 0.01, max(lows) + 0.015)
    ax.set_xlabel("p50 latency per query, ms (one query at a time, one CPU thread)")
    ax.set_ylabel("nDCG@10")
    ax.grid(alpha=0.3)
    ax.set_title("Hybrid retrieval, top 10, SciFact test (300 queries): up and left is better", fontsize=10)
    fig.tight_layout()
    return fig


def strong_key(scores: dict, prefix: str) -> str:
    keys = [key for key in scores if key.startswith(prefix)]
    if not keys:
        raise KeyError(prefix + " (...)")
    return keys[0]


def confident_merge(data: dict) -> Figure:
    merges = data["merges"]
    names = list(merges)
    strong = strong_key(merges[names[0]], "held-out half, strong")
    fig, ax = plt.subplots(figsize=(8, 7), dpi=DPI)
    series = [(label, [merges[name][key] for name in names], color)
              for label, key, color in (("held-out half (150 questions)", "held-out half", OURS), (strong, strong, PEER))]
    paired_barh(ax, names, series, 1.1, "recall_all@5 (both supporting paragraphs in the top 5)", 6.5)
    fig.suptitle("Merging later stages with hybrid's confident hits, HotpotQA dev, held-out half", fontsize=10)
    fig.tight_layout()
    return fig


def scifact_rerank_risk_coverage(data: dict) -> Figure:
    confidence = data["confidence"]
    points = confidence["platt"]["risk_coverage"]
    coverage = [p["coverage"] * 100 for p in points]
    risk = [p["risk"] for p in points]
    fig, ax = plt.subplots(figsize=WIDE, dpi=DPI)
    ax.plot(coverage, risk, marker="o", color=OURS)
    for p, x, y in zip(points, coverage, risk):
        ax.annotate(f"{y:.3f} (conf. ≥ {p['threshold']:.2f})", (x, y), xytext=(5, -10),
                    textcoords="offset points", fontsize=7)
    ax.set_xlim(min(coverage) - 5, 112)
    ax.set_xticks(range(int(min(coverage)), 101, 10))
    ax.set_ylim(0, max(risk) * 1.25)
    ax.set_xlabel("coverage, % of queries answered (the most confident first)")
    ax.set_ylabel("risk: share with no\nrelevant document in top 5")
    ax.grid(alpha=0.3)
    ax.set_title(f"Risk-coverage of the Platt confidence, SciFact test ({data.get('queries', 300)} queries), "
                 "reranked hybrid", fontsize=10)
    fig.tight_layout()
    return fig


def mixed_router_confusion(data: dict) -> Figure:
    confusion = data["confusion_vs_oracle"]
    routers = list(confusion)
    routes = data.get("config", {}).get("routes") or list(confusion[routers[0]])
    fig, axes = plt.subplots(1, len(routers), figsize=(9, 4.2), dpi=DPI, squeeze=False)
    for ax, router in zip(axes[0], routers):
        counts = np.array([[confusion[router][oracle].get(chosen, 0) for chosen in routes] for oracle in routes])
        ax.imshow(counts, cmap="Blues")
        for (row, col), value in np.ndenumerate(counts):
            color = "white" if value > counts.max() / 2 else "black"
            ax.text(col, row, str(value), ha="center", va="center", fontsize=8, color=color)
        ax.set_xticks(range(len(routes)), routes, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(routes)), routes, fontsize=8)
        ax.set_xlabel(f"route the {router} router chose")
        ax.set_ylabel("oracle's best route")
        ax.set_title(f"{router} router", fontsize=10)
    queries = data.get("config", {}).get("n_dev_queries", 450)
    fig.suptitle(f"Router choice against the best route per query, mixed SciFact + HotpotQA dev ({queries} queries)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def split_bars(quality: dict, metric: str, counts: dict) -> tuple[list[str], dict[str, list[float]]]:
    systems = list(quality)
    splits = ("all", "tuning half", "held-out half")
    series = {f"{split} ({counts[split]})" if split in counts else split:
              [quality[system][split][metric] for system in systems] for split in splits}
    return systems, series


def hotpotqa_iterative(data: dict) -> Figure:
    systems, series = split_bars(data["quality"], "recall_all@5", data.get("queries", {}))
    fig, ax = plt.subplots(figsize=WIDE, dpi=DPI)
    grouped_bars(ax, systems, series, "{:.2f}", [OURS, PEER, THIRD])
    ax.tick_params(axis="x", labelsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("recall_all@5 (both supporting\nparagraphs in the top 5)")
    ax.legend(fontsize=7, loc="upper left", ncols=3)
    ax.set_title("Iterative retrieval against single-shot, HotpotQA dev (questions per split in the legend)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def scifact(data: dict) -> Figure:
    quality = data["quality"]
    metrics = ("ndcg@10", "recall@5", "recall_all@5", "recall@100", "mrr@10")
    fig, ax = plt.subplots(figsize=WIDE, dpi=DPI)
    grouped_bars(ax, list(metrics), {name: [quality[name][m] for m in metrics] for name in quality},
                 "{:.3f}", [OURS, PEER, THIRD])
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score (0 to 1)")
    ax.legend(fontsize=8, loc="upper left", ncols=3)
    ax.set_title(f"Retrievers on SciFact test ({data.get('queries', 300)} queries, "
                 f"{data.get('index', {}).get('chunks', 5538):,} chunks)", fontsize=10)
    fig.tight_layout()
    return fig


def hotpotqa_graph(data: dict) -> Figure:
    quality = data["quality"]
    names = list(quality)
    questions = data.get("queries", {}).get("all", 300)
    fig, ax = plt.subplots(figsize=(8, 4), dpi=DPI)
    series = [(metric, [quality[name]["all"][metric] for name in names], color)
              for metric, color in (("recall_all@5", OURS), ("ndcg@10", PEER))]
    paired_barh(ax, names, series, 1.05, "score (0 to 1)", 7)
    fig.suptitle(f"Knowledge-graph retrieval, HotpotQA dev (all {questions} two-hop questions)", fontsize=10)
    fig.tight_layout()
    return fig


def structure_recall(data: dict) -> Figure:
    corpora = data["corpora"]
    k = data.get("k", 5)
    questions = data.get("questions", {})
    fig, axes = plt.subplots(1, len(corpora), figsize=WIDE, dpi=DPI, sharey=True, squeeze=False)
    for ax, (corpus, chunkings) in zip(axes[0], corpora.items()):
        names = list(chunkings)
        retrievers = ("bm25", "dense", "hybrid")
        grouped_bars(ax, names, {r: [chunkings[n][r][f"recall@{k}"] for n in names] for r in retrievers},
                     "{:.2f}", [OURS, PEER, THIRD])
        ax.tick_params(axis="x", labelsize=8)
        ax.set_ylim(0, 1.1)
        ax.set_title(f"{corpus} ({questions.get(corpus, '?')} questions)", fontsize=9)
    axes[0][0].set_ylabel(f"recall@{k} (answer passage\nwhole in a top-{k} chunk)")
    axes[0][0].legend(fontsize=7, loc="upper left", ncols=3)
    fig.suptitle(f"Structure-aware chunks against fixed {data.get('fixed_tokens', 512)}-token windows, "
                 "Python docs and stdlib code", fontsize=10)
    fig.tight_layout()
    return fig


FIGURES: list[tuple[str, str, Callable[[dict], Figure]]] = [
    ("bm25_speed.png", "bm25_speed.json", bm25_speed),
    ("encoders.png", "encoders.json", encoders),
    ("framework_hybrid.png", "framework_hybrid.json", framework_hybrid),
    ("confident_merge.png", "confident_merge.json", confident_merge),
    ("scifact_rerank_risk_coverage.png", "scifact_rerank.json", scifact_rerank_risk_coverage),
    ("mixed_router_confusion.png", "mixed_router.json", mixed_router_confusion),
    ("hotpotqa_iterative.png", "hotpotqa_iterative.json", hotpotqa_iterative),
    ("scifact_retrievers.png", "scifact.json", scifact),
    ("hotpotqa_graph.png", "hotpotqa_graph.json", hotpotqa_graph),
    ("structure_recall.png", "structure_recall.json", structure_recall),
]


def skip(png: str, reason: str) -> None:
    print(f"plots.py: skipped {png}: {reason}", file=sys.stderr)


def draw(png: str, source: Path, figure: Callable[[dict], Figure], output: Path) -> None:
    if not source.is_file():
        skip(png, f"{source} not found")
        return
    data = load(source)
    try:
        fig = figure(data)
    except KeyError as exc:
        plt.close("all")
        skip(png, f"{source.name} has no key {exc.args[0]!r}")
        return
    except (TypeError, ValueError, IndexError, AttributeError) as exc:
        plt.close("all")
        skip(png, f"{source.name} does not have the expected shape ({type(exc).__name__}: {exc})")
        return
    path = output / png
    fig.savefig(path)
    plt.close(fig)
    print(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the committed benchmark results as PNG figures.")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="folder of the results JSON files")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "plots", help="folder for the PNGs")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    status = 0
    for png, source, figure in FIGURES:
        try:
            draw(png, args.results / source, figure, args.output)
        except MalformedResults as exc:
            skip(png, str(exc))
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
