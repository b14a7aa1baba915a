"""Catch a re-index that made retrieval worse: golden queries, a baseline, a verdict.

    python examples/regression_gate.py [--kb DIR] [--limit 300]

The demo base gets golden queries from its 30 questions (their supporting paragraphs are
the expected documents) and a baseline on its first run, the way ``rag-plugins regress kb``
records one. Then the base is re-indexed with six of those paragraphs lost (a loader that
started failing on some files, say): the gate fails and names the questions that got
worse. The same checks run from the command line with ``rag-plugins regress``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import CORPUS, example_parser, kb_directory  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.loaders import load_documents  # noqa: E402
from rag_plugins.ops import GoldenQuery, compare, load_golden, run_golden, write_golden  # noqa: E402

QUESTIONS = CORPUS.parent / "hotpotqa_questions.jsonl"


def main() -> None:
    parser = example_parser(__doc__)
    parser.set_defaults(limit=300)
    args = parser.parse_args()
    directory = kb_directory(args, "regress")
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]
    documents = list(load_documents([CORPUS]))[: args.limit]
    lost = {q["relevant"][0] for q in questions[:6]}
    with KnowledgeBase.open(directory, show_progress=False) as kb:  # BM25 only: no model needed
        kb.upsert(documents)
        kb.commit()
        write_golden([GoldenQuery(q["_id"], q["text"], tuple(q["relevant"])) for q in questions],
                     directory / "golden.jsonl")
        golden = load_golden(directory / "golden.jsonl")
        baseline = run_golden(kb.bm25_retriever(), golden).to_baseline()
        print(f"baseline: {len(golden)} golden queries, recall@10 {baseline['overall']['recall@10']:.3f}, "
              f"MRR@10 {baseline['overall']['mrr@10']:.3f}")
        same = compare(run_golden(kb.bm25_retriever(), golden), baseline)
        print("unchanged base:", "PASS" if same.passed else "FAIL")
        kb.delete(sorted(lost))  # the re-index that lost six supporting paragraphs
        kb.commit()
        report = compare(run_golden(kb.bm25_retriever(), golden), baseline)
    print("after losing six paragraphs:", "PASS" if report.passed else "FAIL: " + "; ".join(report.failures))
    for regression in report.regressions:
        now = regression.now
        print(f"  worse: {now.query[:70]!r}: {regression.reason}")


if __name__ == "__main__":
    main()
