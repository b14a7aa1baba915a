"""The Markdown the loaders write: pipe tables and text that must not read as structure."""

from __future__ import annotations

import re
from typing import Sequence

_STRUCTURE = re.compile(r"^(\s*)(#|```|~~~|\|)", re.MULTILINE)


def pipe_table(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, the first row as its header; ``|`` in cells escaped, short rows padded.

    >>> print(pipe_table([["Part", "Count"], ["bolt", "12"], ["a|b"]]))
    | Part | Count |
    |---|---|
    | bolt | 12 |
    | a\\|b |  |
    """
    rows = [[" ".join(str(c).split()).replace("|", "\\|") for c in row] for row in rows]
    rows = [r for r in rows if any(r)]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    return "\n".join(["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
                     + ["| " + " | ".join(r) + " |" for r in rows[1:]])


def escape_structure(text: str) -> str:
    """Lines that would read as a heading, fence or table (``# of cases``) kept as text.

    >>> escape_structure("# of cases\\nfine")
    '\\\\# of cases\\nfine'
    """
    return _STRUCTURE.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
