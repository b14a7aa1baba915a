"""One self-contained HTML page on how retrieval has been doing: the retrieval log's window
replayed through the collapse monitor, what was retrieved most, the confidence, how old the
retrieved documents are, and the last regression run.

Needs matplotlib (``pip install "rag-plugins[report]"``); the plots are PNGs inside the page,
so it can be mailed or archived as one file.
"""

from __future__ import annotations

import html
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rag_plugins.ops import html_page
from rag_plugins.ops.collapse import CollapseMonitor
from rag_plugins.ops.retrieval_log import LoggedSearch
from rag_plugins.ops.staleness import DAY, StalenessReport, staleness

STALE_DAYS = 180


def build_report(kb: Any, searches: Sequence[LoggedSearch], *, last_regression: dict | None = None,
                 now: float | None = None, stale_days: int = STALE_DAYS) -> str:
    """The report page for ``kb`` over ``searches`` (a retrieval log's window, oldest first)."""
    pyplot = _pyplot()
    now = time.time() if now is None else now
    stale = staleness(kb, searches, now=now)
    sections = [_summary(kb, searches, now), _collapse_section(kb, searches, pyplot),
                _top_documents(searches, pyplot), _confidence_section(searches, pyplot),
                _staleness_section(stale, stale_days, pyplot), _regression_section(last_regression)]
    return html_page.page(f"Retrieval report: {kb.path}", sections, "rag-plugins ops report", now)


def _pyplot() -> Any:
    return html_page.pyplot("the ops report's plots")


def _png(figure: Any, pyplot: Any, alt: str) -> str:
    return html_page.png(figure, pyplot, alt)


def _summary(kb: Any, searches: Sequence[LoggedSearch], now: float) -> str:
    rows = [("knowledge base", str(kb.path)), ("generation", str(kb.generation)), ("documents", f"{len(kb):,}")]
    if searches:
        p50, p95 = np.percentile([s.timings.get("total", 0.0) for s in searches], [50, 95])
        abstained = sum(s.abstained for s in searches)
        rows += [("searches in the window", f"{len(searches):,} ({_when(searches[0].at)} to {_when(searches[-1].at)})"),
                 ("latency p50 / p95", f"{1000 * p50:.1f} ms / {1000 * p95:.1f} ms"),
                 ("abstained", f"{abstained:,} ({abstained / len(searches):.0%})"),
                 ("retrievers", ", ".join(f"{name} ({count:,})" for name, count in
                                          Counter(s.retriever for s in searches).most_common()))]
    else:
        rows.append(("searches in the window", "none logged (enable a retrieval log: serve-mcp --retrieval-log)"))
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<section><h2>Summary</h2><table>{cells}</table></section>"


def _collapse_section(kb: Any, searches: Sequence[LoggedSearch], pyplot: Any) -> str:
    if not searches:
        return "<section><h2>Retrieval collapse</h2><p>No searches to judge.</p></section>"
    alerts: list = []
    monitor = CollapseMonitor.for_knowledge_base(kb, on_alert=alerts.append)
    series: dict[str, list[tuple[float, float]]] = {}
    for search in searches:
        monitor.observe(search)
        for gauges in monitor.gauges(top=False):
            if gauges.retriever == search.retriever and gauges.searches >= monitor.thresholds.min_searches:
                series.setdefault(gauges.retriever, []).append((search.at, gauges.unique_document_rate))
    newest = searches[-1].at
    unit, seconds = _time_unit(newest - searches[0].at)
    figure, axes = pyplot.subplots(figsize=(8, 3.2))
    for name, points in series.items():
        axes.plot([-(newest - t) / seconds for t, _ in points], [v for _, v in points], label=name)
    axes.axhline(monitor.thresholds.unique_document_rate, color="red", linestyle="--", linewidth=1,
                 label="alert threshold")
    for alert in alerts:
        if alert.state == "collapsed":
            axes.axvline(-(newest - alert.at) / seconds, color="red", alpha=0.4)
    axes.set_xlabel(f"{unit} before the newest search")
    axes.set_ylabel("unique-document rate")
    axes.set_ylim(0, 1.05)
    axes.legend(loc="lower left", fontsize=8)
    axes.set_title("Unique-document rate over the last 200 searches of each retriever")
    items = "".join(f"<li>{html.escape(_when(a.at))}: {html.escape(a.message())}</li>" for a in alerts)
    verdict = f"<ul>{items}</ul>" if alerts else "<p>No collapse alert in this window.</p>"
    return (f"<section><h2>Retrieval collapse</h2>{_png(figure, pyplot, 'unique-document rate over time')}"
            f"{verdict}</section>")


def _top_documents(searches: Sequence[LoggedSearch], pyplot: Any, top: int = 15) -> str:
    counts = Counter(doc for s in searches for doc in dict.fromkeys(s.document_ids))
    if not counts:
        return "<section><h2>Most retrieved documents</h2><p>Nothing retrieved.</p></section>"
    names, values = zip(*counts.most_common(top))
    figure, axes = pyplot.subplots(figsize=(8, 0.3 * len(names) + 1))
    axes.barh(range(len(names))[::-1], [v / len(searches) for v in values])
    axes.set_yticks(range(len(names))[::-1], [_short(n) for n in names], fontsize=8)
    axes.set_xlabel("share of searches returning it")
    axes.set_title(f"The {len(names)} most retrieved documents")
    return f"<section><h2>Most retrieved documents</h2>{_png(figure, pyplot, 'most retrieved documents')}</section>"


def _confidence_section(searches: Sequence[LoggedSearch], pyplot: Any) -> str:
    values = [s.confidence for s in searches if s.confidence is not None]
    if not values:
        return ("<section><h2>Confidence</h2><p>No search in the window had a confidence policy "
                "(serve-mcp --confidence, AbstentionPolicy).</p></section>")
    figure, axes = pyplot.subplots(figsize=(8, 3))
    axes.hist(values, bins=20, range=(0, 1))
    axes.set_xlabel("calibrated confidence")
    axes.set_ylabel("searches")
    statuses = Counter(s.status for s in searches if s.status)
    axes.set_title("Confidence: " + ", ".join(f"{k} {v}" for k, v in statuses.most_common()))
    return f"<section><h2>Confidence</h2>{_png(figure, pyplot, 'confidence distribution')}</section>"


def _staleness_section(stale: StalenessReport, stale_days: int, pyplot: Any) -> str:
    ages = {d.id: d.age(stale.now) for d in stale.documents}
    retrieved = [a for a in stale.retrieved_ages if a is not None]
    if not ages:
        return "<section><h2>Staleness</h2><p>The base holds no documents.</p></section>"
    figure, axes = pyplot.subplots(figsize=(8, 3))
    axes.hist([a / DAY for a in ages.values()], bins=30, alpha=0.6, label="all documents")
    if retrieved:
        axes.hist([a / DAY for a in retrieved], bins=30, alpha=0.6, label="retrieved (per hit)")
    axes.axvline(stale_days, color="red", linestyle="--", linewidth=1, label=f"{stale_days} days")
    axes.set_xlabel("days since the document last changed")
    axes.set_ylabel("count")
    axes.legend(fontsize=8)
    axes.set_title("Document age")
    old = sum(a > stale_days * DAY for a in ages.values())
    lines = [f"{old:,} of {len(ages):,} documents ({old / len(ages):.0%}) last changed more than {stale_days} days ago."]
    if retrieved:
        old_hits = sum(a > stale_days * DAY for a in retrieved)
        lines.append(f"{old_hits / len(retrieved):.0%} of the retrieved hits in this window came from documents "
                     f"older than {stale_days} days when they were retrieved.")
    unchecked = stale.unchecked_sources()
    if stale.sources:
        lines.append(f"{len(unchecked):,} of {len(stale.sources):,} sources not re-checked by a sync within "
                     f"{stale.unchecked_days:g} days" + (f" (oldest: {_short(unchecked[0].source)})." if unchecked else "."))
    text = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return f"<section><h2>Staleness</h2>{_png(figure, pyplot, 'document age histogram')}{text}</section>"


def _regression_section(last: dict | None) -> str:
    if last is None:
        return ("<section><h2>Last regression run</h2><p>None recorded: run <code>rag-plugins regress KB</code> "
                "with golden queries.</p></section>")
    verdict = "PASS" if last.get("passed") else "FAIL"
    rows = [("verdict", verdict), ("when", _when(last.get("at", 0))),
            (f"recall@{last.get('k')}", f"{last['recall']['now']:.3f} (baseline {last['recall']['baseline']:.3f})"),
            (f"MRR@{last.get('k')}", f"{last['mrr']['now']:.3f} (baseline {last['mrr']['baseline']:.3f})")]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    worse = "".join(f"<li>{html.escape(r['query'])}: {html.escape(r['reason'])}</li>"
                    for r in last.get("regressions", [])[:20])
    failures = "".join(f"<li>{html.escape(f)}</li>" for f in last.get("failures", []))
    return (f"<section><h2>Last regression run</h2><table>{cells}</table>"
            + (f"<h3>Why it failed</h3><ul>{failures}</ul>" if failures else "")
            + (f"<h3>Queries that got worse</h3><ul>{worse}</ul>" if worse else "") + "</section>")



def _time_unit(span: float) -> tuple[str, float]:
    """The unit a time axis of ``span`` seconds reads best in."""
    if span > 2 * DAY:
        return "days", DAY
    if span > 7200:
        return "hours", 3600.0
    return ("minutes", 60.0) if span > 120 else ("seconds", 1.0)


def _short(name: str, width: int = 40) -> str:
    """A long document id (often a path) cut at the front, where paths share their prefix."""
    return name if len(name) <= width else "..." + name[-(width - 3):]


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def read_last_regression(path: Path) -> dict | None:
    """The last ``regress`` verdict kept beside the baseline, if any."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


