"""Read BEIR-layout datasets: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rag_plugins.errors import InvalidInputError
from rag_plugins.loaders import load_file
from rag_plugins.types import Document


@dataclass(frozen=True)
class BeirDataset:
    """Corpus, the split's queries, and their relevance judgements.

    >>> ds = load_beir("../shared/data/scifact", split="test")  # doctest: +SKIP
    >>> len(ds.queries), len(ds.corpus)  # doctest: +SKIP
    (300, 5183)
    """

    name: str
    corpus: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def iter_corpus(path: Path) -> Iterator[Document]:
    """One Document per line; the title goes into ``metadata['title']``."""
    return load_file(Path(path), with_source=False)


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header and header[0] != "query-id":
            fh.seek(0)
            reader = csv.reader(fh, delimiter="\t")
        for row in reader:
            if len(row) >= 3:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def load_beir(directory: str | Path, split: str = "test") -> BeirDataset:
    directory = Path(directory)
    qrels_path = directory / "qrels" / f"{split}.tsv"
    if not (directory / "corpus.jsonl").exists():
        raise InvalidInputError(f"{directory} has no corpus.jsonl; point to a BEIR-layout folder")
    if not qrels_path.exists():
        available = sorted(p.stem for p in (directory / "qrels").glob("*.tsv"))
        raise InvalidInputError(f"{directory} has no qrels for split {split!r}; available: {available}")
    qrels = load_qrels(qrels_path)
    queries: dict[str, str] = {}
    with open(directory / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                if str(row["_id"]) in qrels:
                    queries[str(row["_id"])] = row["text"]
    return BeirDataset(directory.name, list(iter_corpus(directory / "corpus.jsonl")), queries,
                       {q: r for q, r in qrels.items() if q in queries})


def held_out(query_id: str, fraction: float, seed: int = 13) -> bool:
    """Whether a query falls in a deterministic held-out ``fraction`` (by hash of id and seed):
    the same queries on every machine, with no file to ship.

    >>> sum(held_out(str(i), 0.2) for i in range(1000))
    192
    """
    digest = hashlib.sha256(f"{seed}:{query_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def subset(dataset: BeirDataset, query_ids: set[str]) -> BeirDataset:
    """The dataset restricted to ``query_ids`` (corpus unchanged)."""
    return BeirDataset(dataset.name, dataset.corpus, {q: t for q, t in dataset.queries.items() if q in query_ids},
                       {q: r for q, r in dataset.qrels.items() if q in query_ids})
