"""Model fingerprints: a SHA-256 over every byte of every weight tensor, cached on disk.

A fingerprint says "these are the same weights", so an index is never queried with a model
that differs from the one that built it. Hashing ~100 MB of weights takes a fraction of a
second, but large models are gigabytes, so the result is cached as JSON under
``$XDG_CACHE_HOME/rag-plugins/fingerprints``, keyed by the model folder's files (path, size,
mtime, ctime, inode) and the library versions. Any change to a file, or any doubt (a
model that is not a local folder or cached snapshot, an unreadable cache), means the
weights are hashed again.

Fingerprints written before this module (``legacy_fingerprint``) read only the first
4,096 elements of each tensor; they have no ``sha256:`` prefix, which is how
:func:`fingerprint_matches` tells the two apart.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

PREFIX = "sha256:"
_ALGORITHM = "rag-plugins/full-tensor-sha256/v1"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".gguf")


def is_full_fingerprint(value: str) -> bool:
    """Whether ``value`` hashes every byte of the weights (not the sampled legacy form).

    >>> is_full_fingerprint("sha256:" + "0" * 64), is_full_fingerprint("0" * 32)
    (True, False)
    """
    return isinstance(value, str) and value.startswith(PREFIX)


def fingerprint_matches(recorded: str, embedder: Any) -> bool:
    """Whether ``embedder`` is the model that produced the ``recorded`` fingerprint.

    A legacy (sampled) fingerprint is compared with ``embedder.legacy_fingerprint`` when the
    embedder has one, so bases built before full fingerprints still open; anything else is
    compared with ``embedder.fingerprint``.

    >>> class Fixed:
    ...     fingerprint, legacy_fingerprint = "sha256:" + "ab" * 32, "0123"
    >>> fingerprint_matches("0123", Fixed()), fingerprint_matches("sha256:" + "ab" * 32, Fixed())
    (True, True)
    """
    if not is_full_fingerprint(recorded):
        legacy = getattr(embedder, "legacy_fingerprint", None)
        if legacy is not None:
            return recorded == legacy
    return recorded == embedder.fingerprint


def legacy_fingerprint(model: Any) -> str:
    """The sampled fingerprint bases recorded before full hashing: architecture plus the
    first 4,096 elements of each tensor. Kept only to recognise those bases."""
    import torch

    digest = hashlib.sha256(f"{model!r}|{model.max_seq_length}".encode())
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            sample = tensor.detach().flatten()[:4096].to("cpu", torch.float32).numpy()
            digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
            digest.update(sample.tobytes())
    return digest.hexdigest()[:32]


def full_fingerprint(model: Any) -> str:
    """``sha256:`` + a hash of the architecture, the tokenizer's vocabulary and every
    byte of every tensor in the model's ``state_dict`` (in its stored dtype)."""
    import torch

    digest = hashlib.sha256(f"{_ALGORITHM}\n{model!r}|{model.max_seq_length}\n".encode())
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is not None and hasattr(tokenizer, "get_vocab"):
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False).encode())
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            raw = tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy()
            # the header carries the byte count, so tensor boundaries cannot shift unnoticed
            digest.update(f"\n{name}:{tuple(tensor.shape)}:{tensor.dtype}:{raw.nbytes}\n".encode())
            digest.update(memoryview(raw))
    return PREFIX + digest.hexdigest()


def files_key(directory: Path | None, settings: dict[str, Any]) -> dict[str, Any] | None:
    """What the cached fingerprint depends on: every file under ``directory`` (stat data
    of its target), the loading ``settings`` and the library versions. ``None`` when the
    folder holds no weight file or cannot be read, so nothing is cached."""
    if directory is None:
        return None
    files = []
    try:
        for file in sorted(directory.rglob("*")):
            if ".git" in file.relative_to(directory).parts or not file.is_file():
                continue
            st = file.stat()
            files.append([file.relative_to(directory).as_posix(), os.path.realpath(file), st.st_size,
                          st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev])
    except OSError:
        return None
    if not any(name.endswith(_WEIGHT_SUFFIXES) for name, *_ in files):
        return None
    return {"algorithm": _ALGORITHM, "directory": str(directory), "settings": settings,
            "versions": _versions(), "files": files}


def cached_fingerprint(key: dict[str, Any] | None, compute: Callable[[], str],
                       rekey: Callable[[], dict[str, Any] | None]) -> str:
    """The fingerprint stored for ``key`` (taken before the model loaded) while the files
    are still as ``key`` describes (``rekey()``); else ``compute()``, stored only when the
    files did not change while it ran."""
    if key is None:
        return compute()
    key = _plain(key)
    path = cache_dir() / f"{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()}.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if entry.get("key") == key and is_full_fingerprint(entry.get("fingerprint")) and _plain(rekey()) == key:
            return entry["fingerprint"]
    except (OSError, ValueError, AttributeError):
        pass
    value = compute()
    if _plain(rekey()) == key:  # a file changed since loading began: do not vouch for it
        _write_atomic(path, json.dumps({"key": key, "fingerprint": value}))
    return value


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/rag-plugins`` (``~/.cache`` when unset or relative): where model
    fingerprints and ONNX exports are cached."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path(os.path.expanduser("~")) / ".cache"
    return root / "rag-plugins"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rag-plugins/fingerprints``."""
    return cache_root() / "fingerprints"


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), so keys compare equal."""
    return json.loads(json.dumps(value, default=repr))


def _write_atomic(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:  # a read-only cache only costs the next open a re-hash
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


@functools.lru_cache(maxsize=1)  # the libraries this process imported stay the ones it runs
def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "transformers", "sentence-transformers", "tokenizers"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = ""
    return out
