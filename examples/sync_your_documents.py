"""Keep a knowledge base in step with a folder of real documents.

    python examples/sync_your_documents.py [--kb DIR]

Writes a small folder of an ops team's documents (an HTML runbook with navigation around it,
a Python module, Markdown notes, a chat export, and a PDF when reportlab is installed), syncs
a base from it, and searches it: each hit says where it sits (heading path, anchor, lines or
page) and how fresh it is. Then one file changes and one is deleted, and a second sync
re-indexes only that file and removes the other's chunks, in one commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import example_parser, kb_directory  # noqa: E402
from _model import example_embedding_model  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402

RUNBOOK = """<html><head><title>Deploy runbook</title></head><body>
<nav><a href="/">Home</a> <a href="/teams">Teams</a></nav>
<main><h1 id="deploys">Deploys</h1><p>Deploys run from main every night at 02:00 UTC.</p>
<h2 id="rollback">Rolling back</h2><p>Roll back with the rollback script; it redeploys the previous release.</p>
<pre>./rollback.sh --to previous</pre>
<h2 id="misc">Miscellaneous</h2><p>Signing keys rotate every 90 days; the key tool prints the next date.</p></main>
<footer>Copyright Example Corp</footer></body></html>
"""
MODULE = '''"""Release helpers."""


class Release:
    """A release of the service."""

    def rollback_target(self, history):
        """The release a rollback goes back to: the newest one before this."""
        return history[-2]
'''
CHAT = [
    {"thread": "keys", "author": "Ana", "ts": "2026-11-30T09:00:00Z", "text": "How do I rotate the signing keys?"},
    {"thread": "keys", "author": "Bo", "ts": "2026-11-30T09:02:00Z", "text": "Run the key tool first."},
    {"thread": "keys", "author": "Bo", "ts": "2026-11-30T09:03:00Z", "text": "Then restart the signer service."},
]


def write_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "runbook.html").write_text(RUNBOOK)
    (root / "release.py").write_text(MODULE)
    (root / "notes.md").write_text("# On-call notes\n\nPage the on-call engineer for failed deploys.\n")
    (root / "chat.jsonl").write_text("\n".join(json.dumps(m) for m in CHAT) + "\n")
    (root / "scratch.md").write_text("# Scratch\n\nTemporary notes.\n")
    try:
        from reportlab.lib.styles import getSampleStyleSheet
        from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate
    except ImportError:
        return root
    styles = getSampleStyleSheet()
    SimpleDocTemplate(str(root / "handbook.pdf"), title="Ops handbook").build([
        Paragraph("Access", styles["Heading1"]), Paragraph("Ask the platform team for production access.",
                                                           styles["BodyText"]), PageBreak(),
        Paragraph("Budgets", styles["Heading1"]), Paragraph("Each team has a monthly cloud budget.",
                                                            styles["BodyText"])])
    return root


def show(kb: KnowledgeBase, question: str) -> None:
    print(f"Q: {question}")
    for hit in kb.hybrid_retriever().retrieve(question, k=2):
        meta, info = hit.chunk.metadata, kb.document_info(hit.chunk.document_id)
        where = [f"page {meta['page_start']}" if "page_start" in meta else "",
                 f"lines {meta['line_start']}-{meta['line_end']}" if "line_start" in meta else "",
                 f"#{meta['anchor']}" if meta.get("anchor") else ""]
        place = " > ".join([Path(hit.chunk.document_id.split("#")[0]).name, *hit.chunk.heading_path])
        locator = " ".join(w for w in where if w)
        print(f"  {place}{f' [{locator}]' if locator else ''} version {info['version']}: {hit.chunk.text[:60]!r}")


def main() -> None:
    args = example_parser(__doc__).parse_args()
    directory = kb_directory(args, "sync")
    folder = write_folder(directory.parent / f"{directory.name}-docs")
    kb = KnowledgeBase.open(directory, embedder=example_embedding_model(), show_progress=False)
    first = kb.sync([folder])
    print(f"first sync: {first.summary()}")
    show(kb, "how do I roll back a deploy?")
    show(kb, "how do I rotate the signing keys?")
    if (folder / "handbook.pdf").exists():
        show(kb, "who gives production access?")
    (folder / "notes.md").write_text("# On-call notes\n\nPage the on-call engineer, then open an incident.\n")
    (folder / "scratch.md").unlink()
    second = kb.sync([folder])
    print(f"second sync: {second.summary()}")
    print(f"  updated {[Path(i).name for i in second.updated]}, removed {[Path(i).name for i in second.removed]}")
    third = kb.sync([folder])
    print(f"third sync (nothing changed): {third.files_hashed} file(s) hashed, {third.files_loaded} loaded, "
          f"generation {third.generation}")
    kb.close()


if __name__ == "__main__":
    main()
