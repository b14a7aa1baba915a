"""The per-generation JSON manifest: format version, embedding model, file checksums.

From format 2 the manifest also checksums itself (``manifest_sha256`` over the rest), and
records the digest of the generation's chunk rows and of the base's settings, so a flipped
byte anywhere in it or in ``kb.sqlite`` is refused rather than served.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from rag_plugins.errors import IndexCorruptedError, UnsupportedFormatVersionError

FORMAT_VERSION = 2
MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _self_digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def check_format_version(version: Any, where: Path) -> None:
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise UnsupportedFormatVersionError(
            f"{where} was written in knowledge-base format {version!r}, but this rag-plugins "
            f"reads format {FORMAT_VERSION} and older. Upgrade: pip install -U rag-plugins"
        )


def write_manifest(directory: Path, files: list[str], body: dict[str, Any]) -> dict[str, Any]:
    """Checksum ``files``, write the manifest, and fsync everything in ``directory``."""
    manifest = {"format_version": FORMAT_VERSION, **body,
                "files": {name: sha256_file(directory / name) for name in sorted(files)}}
    manifest["manifest_sha256"] = _self_digest(manifest)
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    for name in [*files, MANIFEST]:
        with open(directory / name, "rb") as fh:
            os.fsync(fh.fileno())
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    """Load and verify a generation's manifest; any mismatch refuses to load."""
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeError) as exc:
        raise IndexCorruptedError(
            f"cannot read {path} ({exc}); the knowledge base is damaged: restore it from a "
            "backup or rebuild it"
        ) from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptedError(f"{path} is not a manifest; restore it from a backup or rebuild")
    check_format_version(manifest.get("format_version"), directory)
    checked = manifest["format_version"] >= 2 or "manifest_sha256" in manifest
    if checked and manifest.get("manifest_sha256") != _self_digest(manifest):
        raise IndexCorruptedError(
            f"{path} does not match its own checksum: it is damaged. Nothing was loaded; restore "
            "the directory from a backup or rebuild the index"
        )
    files = manifest.get("files", {})
    if not isinstance(files, dict):
        raise IndexCorruptedError(f"{path} lists no files; restore it from a backup or rebuild")
    for name, expected in files.items():
        if "/" in name or "\\" in name or name.startswith("."):
            raise IndexCorruptedError(f"{path} names a file outside its directory ({name!r})")
        file = directory / name
        if not file.exists():
            raise IndexCorruptedError(f"index file {file} is missing; restore it or rebuild the index")
        actual = sha256_file(file)
        if actual != expected:
            raise IndexCorruptedError(
                f"index file {file} does not match its checksum (expected sha256 {expected[:12]}…, "
                f"found {actual[:12]}…): it is corrupt or truncated. Nothing was loaded; restore "
                "the directory from a backup or rebuild the index"
            )
    return manifest
