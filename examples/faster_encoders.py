"""Run the embedding model through ONNX Runtime (fp32 or int8) instead of torch, on a CPU.

    pip install "rag-plugins[onnx]"
    python examples/faster_encoders.py [--kb DIR] [--limit 40]

The demo paragraphs are indexed twice, with ``embedding_backend="torch"`` and ``"onnx-int8"``
(the ONNX file is exported once from the local model and cached; nothing is downloaded).
Then: the query latency of each, one query at a time; whether their top hits agree on the
demo questions; what happens when a base is opened with a backend it was not built with (it
is refused: vectors of two backends are never mixed); and how a base moves to another
backend (re-embedded beside the serving generation, then switched).

From the command line: ``rag-plugins index DOCS --kb DIR --embedding-backend onnx-int8``;
``rag-plugins reindex --kb DIR --model MODEL --embedding-backend onnx-int8 --switch``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import CORPUS, example_parser, kb_directory  # noqa: E402
from _model import example_embedding_model  # noqa: E402

from rag_plugins import KnowledgeBase  # noqa: E402
from rag_plugins.embeddings import SentenceTransformerEmbedder  # noqa: E402
from rag_plugins.errors import EmbeddingModelMismatchError  # noqa: E402
from rag_plugins.loaders import load_documents  # noqa: E402

QUESTIONS = CORPUS.parent / "hotpotqa_questions.jsonl"
BACKENDS = ("torch", "onnx-int8")


def query_ms(kb: KnowledgeBase, questions: list[str]) -> float:
    retriever = kb.dense_retriever()
    retriever.retrieve(questions[0], k=5)
    times = []
    for q in questions:
        kb.clear_query_cache()
        t0 = time.perf_counter()
        retriever.retrieve(q, k=5)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    args = example_parser(__doc__).parse_args()
    root = kb_directory(args, "backends")
    model = example_embedding_model()
    documents = list(load_documents([CORPUS]))[: args.limit]
    questions = [json.loads(line)["text"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()][:20]
    bases = {}
    for backend in BACKENDS:
        kb = KnowledgeBase.open(root / backend, embedder=model, embedding_backend=backend, show_progress=False)
        kb.upsert(documents)
        kb.commit()
        bases[backend] = kb
        print(f"{backend}: {len(kb)} documents, recorded backend {kb.settings['embedding']['backend']!r}")

    latency = {backend: query_ms(kb, questions) for backend, kb in bases.items()}
    print("dense query p50: " + ", ".join(f"{b} {ms:.1f} ms" for b, ms in latency.items())
          + f" (onnx-int8 takes x{latency['onnx-int8'] / latency['torch']:.2f} of torch's time)")

    same = sum(bases["torch"].dense_retriever().retrieve(q, k=1)[0].document_id
               == bases["onnx-int8"].dense_retriever().retrieve(q, k=1)[0].document_id for q in questions)
    print(f"top hit the same for {same} of {len(questions)} questions")

    for kb in bases.values():
        kb.close()
    try:
        KnowledgeBase.open(root / "onnx-int8", read_only=True, embedding_backend="torch")
    except EmbeddingModelMismatchError as exc:
        print(f"refused: {str(exc).split(';')[0]}")

    with KnowledgeBase.open(root / "torch") as kb:
        pending = kb.reindex(SentenceTransformerEmbedder(model, backend="onnx-int8"))
        print(f"re-embedded on onnx-int8 as generation {pending.generation} beside generation {kb.generation}")
        kb.switch()
        print(f"switched: the base now searches with {kb.embedder.backend} "
              f"(top hit: {kb.dense_retriever().retrieve(questions[0], k=1)[0].document_id})")


if __name__ == "__main__":
    main()
