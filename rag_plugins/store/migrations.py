"""Upgrading ``kb.sqlite`` written by older versions, in place and in one transaction.

Format 1 kept one row per live chunk (``chunks.id`` unique) and no checksums. Format 2
keeps replaced chunk rows until no reader needs them, and checksums chunks and cache
entries. The upgrade runs under the writer lock; a reader finding format 1 is told to
open the base for writing once.
"""

from __future__ import annotations

from rag_plugins.store.docstore import SCHEMA, DocumentStore
from rag_plugins.store.integrity import (
    chunk_checksum,
    document_row_checksum,
    extraction_checksum,
    text_digest,
    vector_checksum,
)


def upgrade_1_to_2(store: DocumentStore, generation: int) -> None:
    """Every format-1 chunk is live in ``generation`` (the committed one)."""
    with store.transaction() as conn:
        chunks = conn.execute("SELECT row, id, document_id, position, text, metadata FROM chunks").fetchall()
        embeddings = conn.execute("SELECT key, vector FROM embeddings").fetchall()
        extractions = conn.execute("SELECT key, extraction FROM extractions").fetchall()
        documents = conn.execute(
            "SELECT id, text, metadata, content_hash, version, updated_at FROM documents").fetchall()
        for table in ("chunks", "embeddings", "extractions", "documents"):
            conn.execute(f"DROP TABLE {table}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        rows = []
        for row, cid, did, pos, text, meta in chunks:
            sha = text_digest(text)
            rows.append((row, cid, did, pos, text, meta, sha, chunk_checksum(row, cid, did, pos, sha, meta),
                         generation))
        conn.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)", rows)
        conn.executemany("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                         ((*d, document_row_checksum(d[0], d[3], d[4], d[5])) for d in documents))
        conn.executemany("INSERT INTO embeddings VALUES (?, ?, ?)",
                         ((k, v, vector_checksum(k, v)) for k, v in embeddings))
        conn.executemany("INSERT INTO extractions VALUES (?, ?, ?)",
                         ((k, v, extraction_checksum(k, v)) for k, v in extractions))
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('format_version', '2')")
