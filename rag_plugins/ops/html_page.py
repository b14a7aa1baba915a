"""Self-contained HTML pages of plots: matplotlib figures as PNG data URIs in one file
(the ops report and the eval report), so a page can be mailed or archived whole."""

from __future__ import annotations

import base64
import html
import io
import time
from typing import Any, Sequence

from rag_plugins._deps import require

CSS = ("body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;color:#222}"
       "h1{font-size:1.4em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}"
       "table{border-collapse:collapse}th{text-align:left;padding:.2em 1em .2em 0;color:#555}"
       "td{padding:.2em 0}img{max-width:100%}footer{margin-top:3em;color:#888;font-size:.8em}")


def pyplot(feature: str = "the report's plots") -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    matplotlib = require("matplotlib", feature)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(figure: Any, plt: Any, alt: str) -> str:
    """``figure`` as an ``<img>`` with the PNG inside; the figure is closed."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def page(title: str, sections: Sequence[str], generator: str, now: float | None = None) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(time.time() if now is None else now))
    title = html.escape(title)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{CSS}</style></head><body>"
            f"<h1>{title}</h1>{''.join(sections)}"
            f"<footer>Generated {when} by {html.escape(generator)}.</footer></body></html>\n")
