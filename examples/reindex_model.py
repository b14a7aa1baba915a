"""Move a base to another embedding model safely: build beside, measure drift, gate, switch, roll back.

    python examples/reindex_model.py [--kb DIR] [--limit 80] [--model NEW_MODEL]

The demo base (dense + BM25) gets golden queries from its questions. It is then re-embedded
twice, each time beside the generation that keeps serving:

1. with ``--model`` (default: an *untrained* model of another shape, built here; the kind
   of model a typo in a config pulls in): the drift report shows most top hits change,
   and the regression gate refuses the switch;
2. with the base's own model (what a library upgrade that changes nothing looks like):
   no drift, the gate passes, the switch happens, and a rollback returns to the old
   generation.

From the command line: ``rag-plugins reindex --kb DIR --model NEW --gate``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import CORPUS, example_parser, kb_directory  # noqa: E402
from _model import example_embedding_model  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.errors import RegressionGateError  # noqa: E402
from rag_plugins.loaders import load_documents  # noqa: E402
from rag_plugins.ops import GoldenQuery, RegressionGate, measure_drift, write_golden  # noqa: E402

QUESTIONS = CORPUS.parent / "hotpotqa_questions.jsonl"


def untrained_model(directory: Path, like: str) -> str:
    """A random 2-layer BERT with ``like``'s tokenizer and 32 dimensions: retrieves nonsense."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(like)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    BertModel(config).save_pretrained(str(directory / "bert"))
    tokenizer.save_pretrained(str(directory / "bert"))
    SentenceTransformer(modules=[Transformer(str(directory / "bert")), Pooling(32)],
                        device="cpu").save(str(directory / "model"))
    return str(directory / "model")


def short(model: str) -> str:
    """A model id, or the last two parts of a model folder's path."""
    return "/".join(Path(model).parts[-2:])


def main() -> None:
    parser = example_parser(__doc__)
    parser.set_defaults(limit=80)
    parser.add_argument("--model", help="the model to move to (default: an untrained one, built here)")
    args = parser.parse_args()
    directory = kb_directory(args, "reindex")
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]
    wanted = {d for q in questions for d in q["relevant"]}
    paragraphs = list(load_documents([CORPUS]))
    documents = [d for d in paragraphs if d.id in wanted] + [d for d in paragraphs if d.id not in wanted]
    own_model = example_embedding_model()
    new_model = args.model or untrained_model(Path(tempfile.mkdtemp(prefix="rag-plugins-untrained-")), own_model)
    with KnowledgeBase.open(directory, embedder=own_model, show_progress=False) as kb:
        kb.upsert(documents[: max(args.limit, len(wanted))])
        kb.commit()
        write_golden([GoldenQuery(q["_id"], q["text"], tuple(q["relevant"])) for q in questions],
                     kb.path / "golden.jsonl")
        gate = RegressionGate.for_knowledge_base(kb, retriever="dense")
        gate.record_baseline_if_missing(kb)
        print(f"generation {kb.generation}: {len(kb)} documents embedded with {short(own_model)}; "
              f"baseline recall@10 {gate.last.run.recall:.3f}")
        queries = [q["text"] for q in questions]
        for label, model in (("new model", new_model), ("same model", own_model)):
            pending = kb.reindex(model)
            drift = measure_drift(kb, kb.standby_snapshot(), queries, "dense")
            print(f"\n{label}: pending generation {pending.generation} beside generation {kb.generation}")
            print(f"  drift on {len(drift.queries)} queries: overlap@10 {drift.overlap:.2f}, "
                  f"top-1 changed for {drift.top1_changed:.0%}")
            try:
                current = kb.switch(gate=gate)
                print(f"  gate passed (recall@10 {gate.last.run.recall:.3f}); generation {current} is current")
            except RegressionGateError as refused:
                print(f"  gate refused: {'; '.join(refused.verdict.report.failures)}")
                print(f"  generation {kb.generation} keeps serving; {len(refused.verdict.report.regressions)} "
                      "questions got worse")
        back = kb.switch("previous")
        print(f"\nrolled back: generation {back} is current, embedded with {short(kb.embedder.model_id)}")


if __name__ == "__main__":
    main()
