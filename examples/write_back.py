"""Write generated answers back into the corpus only when they are supported and new.

    python examples/write_back.py [--kb DIR] [--limit 40]

Four scripted answers (standing in for an LLM's) are offered to ``kb.write_back`` with the
passages they cite. A supported answer that combines two passages is added, marked as
generated and left out of normal searches; an answer with an invented sentence, one that
changes a figure, and a copy of an existing passage are refused, each by its check. The
verdicts are kept in the retrieval log. Finally the written-back answers are removed as a
group.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import example_parser, kb_directory  # noqa: E402
from _model import example_embedding_model  # noqa: E402

from rag_plugins import Document, KnowledgeBase  # noqa: E402
from rag_plugins.ops import RetrievalLog, read_write_backs  # noqa: E402

POLICIES = [
    Document("refunds", "Refunds are accepted within 30 days of purchase. A receipt is required for every refund."),
    Document("shipping", "Orders ship within two business days. Express shipping costs 12 euros."),
    Document("warranty", "The warranty covers manufacturing defects for two years."),
]
QUESTION = "How long do refunds and shipping take?"
ANSWERS = [
    ("supported, from two passages", "Orders ship within two business days. Refunds are accepted within 30 days "
                                     "of purchase.", ["refunds#0", "shipping#0"]),
    ("an invented sentence", "Refunds are accepted within 30 days of purchase. Refunds are paid in gold coins.",
     ["refunds#0"]),
    ("a changed figure", "Refunds are accepted within 90 days of purchase.", ["refunds#0"]),
    ("a copy of a passage", POLICIES[2].text, ["warranty#0"]),
]


def main() -> None:
    args = example_parser(__doc__).parse_args()
    directory = kb_directory(args, "write-back")
    with KnowledgeBase.open(directory, embedder=example_embedding_model(), show_progress=False) as kb:
        kb.upsert(POLICIES)
        kb.commit()
        with RetrievalLog(kb.path) as log:
            for label, answer, cited in ANSWERS:
                result = kb.write_back(answer, cited, QUESTION, model="scripted", batch="demo", log=log)
                verdict = f"added as {result.document_id}" if result.accepted else \
                    f"refused by the {result.failed.name} check: {result.failed.detail}"
                print(f"{label}: {verdict}")
        hits = [h.document_id for h in kb.hybrid_retriever().retrieve("refunds and shipping", k=5)]
        print(f"\na normal search sees: {', '.join(hits)}")
        asked = kb.bm25_retriever().retrieve("refunds and shipping", k=5, filters={"generated": True})
        print(f"asking for generated text: {', '.join(h.document_id for h in asked)}")
        refusals = [r["failed_check"] for r in read_write_backs(kb.path) if not r["accepted"]]
        print(f"refusals in the retrieval log: {', '.join(refusals)}")
        print(f"removed: {', '.join(kb.remove_generated('demo'))}")


if __name__ == "__main__":
    main()
