import hashlib
from pathlib import Path


def kb_state(kb):
    """Everything a rejected call must leave untouched, in comparable form."""
    gen_dir = Path(kb.path) / "generations"
    files = {}
    if gen_dir.exists():
        for f in sorted(gen_dir.rglob("*")):
            if f.is_file():
                files[str(f.relative_to(gen_dir))] = hashlib.sha256(f.read_bytes()).hexdigest()
    docs = {i: (kb.get(i).text, dict(kb.get(i).metadata), kb.document_version(i)) for i in kb.document_ids()}
    return {"generation": kb.generation, "docs": docs, "chunks": kb.chunk_count, "files": files,
            "pending": kb.has_pending_changes}
