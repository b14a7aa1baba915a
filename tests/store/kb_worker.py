"""Processes that write or read one knowledge base, for the concurrency tests.

    python kb_worker.py writer PATH SECONDS   commit in a loop, printing each step
    python kb_worker.py reader PATH SECONDS   reopen and search in a loop (until SECONDS pass or a
                                              file PATH.stop appears), print a JSON summary
    python kb_worker.py hold PATH             open for writing, print "ready", wait to be killed

Every commit rewrites the document ``gen`` to say which generation it lands in, so a
reader can check that a search's hits come from the generation it read.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path


def gen_text(generation: int) -> str:
    return f"generation g{generation} is the newest state of the ledger"


def writer(path: str, seconds: float) -> None:
    from rag_plugins import Document, KnowledgeBase

    kb = KnowledgeBase.open(path, show_progress=False)
    deadline = time.monotonic() + seconds
    rng = random.Random()
    while time.monotonic() < deadline:
        g = kb.generation + 1
        docs = [Document("gen", gen_text(g), {"kind": "gen"})]
        docs += [Document(f"d{i}", f"ledger page {i} written at g{g} " + "word " * rng.randint(1, 40),
                          {"kind": "page"}) for i in rng.sample(range(12), 3)]
        kb.upsert(docs)
        if g % 5 == 0:
            kb.delete([f"d{rng.randrange(12)}"], missing_ok=True)
        print(f"committing {g}", flush=True)
        assert kb.commit().generation == g
        print(f"committed {g}", flush=True)
    kb.close()


def reader(path: str, seconds: float) -> None:
    from rag_plugins import KnowledgeBase
    from rag_plugins.errors import RagPluginsError
    from rag_plugins._search_scope import one_generation_per_search

    deadline = time.monotonic() + seconds
    stop = Path(path + ".stop")
    summary = {"opens": 0, "searches": 0, "generations": [], "errors": []}
    held = None
    while time.monotonic() < deadline and not stop.exists():
        try:
            if held is None or random.random() < 0.5:  # a fresh open, or the held reader refreshing
                if held is not None:
                    held.close()
                held = KnowledgeBase.open(path, read_only=True, show_progress=False)
                summary["opens"] += 1
            kb = held
            with one_generation_per_search():
                snap = kb.searchable_snapshot()
                hits = kb.bm25_retriever().retrieve("newest ledger state generation", k=4)
            expected = min(4, len(snap.rows))
            gen_hits = [h for h in hits if h.chunk.document_id == "gen"]
            if len(hits) != expected:
                summary["errors"].append(f"g{snap.generation}: {len(hits)} hits, expected {expected}")
            if not gen_hits or gen_hits[0].chunk.text != gen_text(snap.generation):
                summary["errors"].append(f"g{snap.generation}: gen hit {[h.chunk.text for h in gen_hits]}")
            summary["generations"].append(snap.generation)
            summary["searches"] += 1
        except RagPluginsError as exc:
            if "no committed chunks" in str(exc):
                continue
            summary["errors"].append(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # an untyped error is a failure too
            summary["errors"].append(f"UNTYPED {type(exc).__name__}: {exc}")
    if held is not None:
        held.close()
    gens = summary.pop("generations")
    summary["first"], summary["last"] = (gens[0], gens[-1]) if gens else (None, None)
    summary["went_back"] = sum(1 for a, b in zip(gens, gens[1:]) if b < a)
    print(json.dumps(summary), flush=True)


def hold(path: str) -> None:
    from rag_plugins import KnowledgeBase

    kb = KnowledgeBase.open(path, show_progress=False)
    print("ready", flush=True)
    time.sleep(600)
    kb.close()


if __name__ == "__main__":
    role, target = sys.argv[1], sys.argv[2]
    if role == "writer":
        writer(target, float(sys.argv[3]))
    elif role == "reader":
        reader(target, float(sys.argv[3]))
    else:
        hold(target)
