"""Checksums of what ``kb.sqlite`` holds, so a damaged byte is refused instead of served.

Each chunk row carries the digest of its text and a checksum over (row, ids, position,
text digest, metadata JSON). Loading a generation verifies every row's checksum and the
digest of all of them against the generation's manifest (so a missing, extra or altered
row is caught); reading a chunk's text verifies the text against its digest. Documents
are verified against their ``content_hash``, cached vectors and extractions against
their own checksums (a bad cache entry is recomputed, not trusted).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

import numpy as np

CHECKSUM_BYTES = 16


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=CHECKSUM_BYTES).hexdigest()


def text_digest(text: str) -> str:
    return digest(text.encode("utf-8"))


def vector_checksum(key: str, blob: bytes) -> str:
    """The checksum of a cached embedding (its content-hash key and float32 bytes)."""
    return digest(key.encode() + blob)


def extraction_checksum(key: str, extraction_json: str) -> str:
    """The checksum of a cached extractor answer (its key and JSON text)."""
    return digest((key + "\x00" + extraction_json).encode())


def chunk_checksum(row: int, chunk_id: str, document_id: str, position: int, text_sha: str,
                   metadata_json: str) -> str:
    body = json.dumps([int(row), chunk_id, document_id, int(position), text_sha, metadata_json],
                      ensure_ascii=True)
    return digest(body.encode("ascii"))


def document_row_checksum(doc_id: str, content_hash: str, version: int, updated_at: float) -> str:
    return digest(json.dumps([doc_id, content_hash, int(version), float(updated_at)]).encode())


def chunks_digest(checksums: np.ndarray) -> str:
    """One digest over the per-row checksums of a generation, in row order."""
    return hashlib.sha256(np.ascontiguousarray(checksums, dtype=f"S{CHECKSUM_BYTES}").tobytes()).hexdigest()


def checksum_array(hex_checksums: Iterable[str]) -> np.ndarray:
    return np.array([bytes.fromhex(c) for c in hex_checksums], dtype=f"S{CHECKSUM_BYTES}")


def settings_digest(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def document_hash(text: str, metadata: Mapping[str, Any]) -> str:
    """The content hash of a document (what makes an unchanged upsert a no-op)."""
    body = json.dumps({"text": text, "metadata": dict(metadata)}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()
