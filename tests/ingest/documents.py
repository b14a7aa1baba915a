"""Fixture documents written with the writing libraries (reportlab, python-docx) or by hand
(HTML, code, Slack exports): small, real files of each format."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path


def manual_pdf(path: Path, outline: bool = True, encrypt: str | None = None) -> Path:
    """Three A4 pages with a running header and footer, two levels of headings (bookmarked
    when ``outline``), a table, and a line that starts with ``#``."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table

    styles = getSampleStyleSheet()

    class Manual(SimpleDocTemplate):
        def afterFlowable(self, flowable):
            if outline and isinstance(flowable, Paragraph) and flowable.style.name in ("Heading1", "Heading2"):
                key = f"h{id(flowable)}"
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(flowable.getPlainText(), key, level=int(flowable.style.name[-1]) - 1)

    def running(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(40, 810, "Widget Manual - Confidential")
        canvas.drawString(40, 20, f"Page {doc.page}")
        canvas.restoreState()

    story = [
        Paragraph("Installing", styles["Heading1"]),
        Paragraph("Run the installer and accept the licence. " * 3, styles["BodyText"]),
        Paragraph("Requirements", styles["Heading2"]),
        Paragraph("You need 4 GB of memory.", styles["BodyText"]),
        Table([["Part", "Count"], ["bolt", "12"]]),
        PageBreak(),
        Paragraph("Configuring", styles["Heading1"]),
        Paragraph("Edit the config file and restart the widget.", styles["BodyText"]),
        PageBreak(),
        Paragraph("Troubleshooting", styles["Heading1"]),
        Paragraph("# of retries is three.", styles["BodyText"]),
    ]
    Manual(str(path), title="Widget Manual", encrypt=encrypt).build(story, onFirstPage=running, onLaterPages=running)
    return path


def image_only_pdf(path: Path, text_on_first: bool) -> Path:
    """A page with text (when ``text_on_first``) and a page that is only a drawn image."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    import io
    import struct
    import zlib

    def png() -> bytes:  # a 2x2 grey PNG, written by hand
        raw = b"".join(b"\x00" + b"\x80\x80" for _ in range(2))
        chunk = lambda tag, data: struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))  # noqa: E731
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

    pdf = canvas.Canvas(str(path))
    if text_on_first:
        pdf.drawString(72, 720, "A page of real text.")
        pdf.showPage()
    pdf.drawImage(ImageReader(io.BytesIO(png())), 72, 72, 400, 400)
    pdf.showPage()
    pdf.save()
    return path


HTML_PAGE = """<!DOCTYPE html>
<html><head><title>Deploy guide</title><link rel="canonical" href="https://docs.example.com/deploy.html"></head>
<body>
<header class="site-header"><a href="/">Home</a> | <a href="/about">About</a></header>
<nav class="sidebar"><ul><li>Deploy guide</li><li>Miscellaneous</li></ul></nav>
<div class="body" role="main">
<section id="deploying">
<h1>Deploying<a class="headerlink" href="#deploying">¶</a></h1>
<p>Deploys run from <code>main</code> every   night.</p>
<section id="rollback">
<h2>Rolling back</h2>
<p>Run the rollback script:</p>
<pre>./rollback.sh --to previous
echo done
</pre>
<table><tr><th>Env</th><th>Window</th></tr><tr><td>prod</td><td>02:00</td></tr></table>
</section>
<h2 id="misc">Miscellaneous</h2>
<ul><li>Signing keys rotate every 90 days.</li><li>Ask #infra for access.</li></ul>
<dl class="py function"><dt id="deploy.run">deploy.run(target)</dt><dd><p>Deploy to target.</p></dd></dl>
</section>
</div>
<footer>Copyright 2026 Example Corp. Privacy policy.</footer>
<script>var tracking = 1;</script>
</body></html>
"""


def word_document(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Onboarding"
    document.add_heading("Onboarding", level=0)
    document.add_paragraph("Welcome to the team.")
    document.add_heading("Accounts", level=1)
    document.add_paragraph("Ask IT for a laptop.", style="List Bullet")
    document.add_paragraph("Enable two-factor login.", style="List Bullet")
    document.add_heading("Holidays", level=2)
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Days", "Region"), ("25", "EU")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    document.add_paragraph("Book holidays two weeks ahead.")
    document.save(str(path))
    return path


PYTHON_MODULE = '''"""Caches."""
import time


class Cache:
    """A cache."""

    class Entry:
        def __init__(self, value):
            self.value = value
            self.born = time.time()

    def get(self, key):
        return self.entries[key].value


def helper(x):  # a helper
    return x * 2
'''


def slack_export(root: Path) -> Path:
    """An export with two users and one channel: a thread whose answer spans three replies
    over two days, and a message on its own."""
    root.mkdir()
    (root / "users.json").write_text(json.dumps([{"id": "U1", "name": "ana", "real_name": "Ana"},
                                                 {"id": "U2", "name": "bo", "real_name": "Bo"}]))
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "infra"}]))
    (root / "infra").mkdir()
    day1 = [
        {"type": "message", "user": "U1", "text": "How do I rotate the signing keys?", "ts": "1714550400.000100",
         "thread_ts": "1714550400.000100"},
        {"type": "message", "user": "U2", "text": "First run <https://keys.example.com|the key tool>.",
         "ts": "1714550460.000200", "thread_ts": "1714550400.000100"},
        {"type": "message", "subtype": "channel_join", "user": "U2", "text": "<@U2> has joined", "ts": "1714550500.0"},
        {"type": "message", "user": "U1", "text": "Lunch at noon?", "ts": "1714552000.000300"},
    ]
    day2 = [
        {"type": "message", "user": "U2", "text": "Then restart the signer.", "ts": "1714636800.000400",
         "thread_ts": "1714550400.000100"},
        {"type": "message", "user": "U2", "text": "Finally tell <@U1> it is done.", "ts": "1714636860.000500",
         "thread_ts": "1714550400.000100"},
    ]
    (root / "infra" / "2024-05-01.json").write_text(json.dumps(day1))
    (root / "infra" / "2024-05-02.json").write_text(json.dumps(day2))
    return root


def zipped(folder: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*.json")):
            archive.write(file, file.relative_to(folder).as_posix())
    return path
