"""See context rot: which sources no sync re-checked, and how old the text queries get is.

    python examples/staleness_report.py [--kb DIR]

A folder of policy files of different ages (set through their modification times, as
files that were last edited long ago) is synced; searches are logged; a second folder is
synced once and then never again. The staleness report lists that folder's sources as not
re-checked within the window and gives the age distribution of what the searches
retrieved, measured when they retrieved it. From the command line:
``rag-plugins ops staleness --kb DIR --unchecked-days 30``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import example_parser, kb_directory  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.ops import RetrievalLog, read_retrieval_log, staleness  # noqa: E402
from rag_plugins.ops.staleness import DAY  # noqa: E402
from rag_plugins.tracing import ObservedRetriever  # noqa: E402

FILES = {  # name: (text, age in days)
    "policies/refunds.md": ("# Refunds\n\nRefunds are accepted within 30 days of purchase.", 400),
    "policies/shipping.md": ("# Shipping\n\nOrders ship within two business days.", 20),
    "policies/warranty.md": ("# Warranty\n\nThe warranty covers defects for two years.", 200),
    "archive/office.md": ("# Office\n\nThe office moved to the third floor.", 900),
}


def main() -> None:
    args = example_parser(__doc__).parse_args()
    directory = kb_directory(args, "staleness")
    root = Path(tempfile.mkdtemp(prefix="rag-plugins-sources-"))
    for name, (text, age) in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        when = time.time() - age * DAY
        os.utime(path, (when, when))
    with KnowledgeBase.open(directory, show_progress=False) as kb:
        kb.sync([root / "archive"])
        kb.sync([root / "policies"])
        with RetrievalLog(kb.path) as log:
            search = ObservedRetriever(kb.bm25_retriever(), log)
            for query in ("refund purchase", "refunds", "shipping days", "warranty defects", "office floor"):
                search.retrieve(query, k=1)
        time.sleep(0.1)
        kb.sync([root / "policies"])  # the nightly job syncs policies/ only
        # the report as of a day after that sync, for what nothing re-checked within a day
        last_sync = max(kb.store.source_checks().values())
        report = staleness(kb, read_retrieval_log(kb.path), unchecked_days=1, now=last_sync + DAY)
        print(f"{len(report.unchecked_sources())} of {len(report.sources)} sources not re-checked within a day:")
        for source in report.unchecked_sources():
            print(f"  {Path(source.source).relative_to(root)}")
        print(f"{report.retrieved_older_than(180):.0%} of the {len(report.retrieved_ages)} retrieved hits came from "
              "documents older than 180 days when retrieved")
        print("by age: " + ", ".join(f"{band} {share:.0%}" for band, share in report.age_bands().items()))


if __name__ == "__main__":
    main()
