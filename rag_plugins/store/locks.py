"""OS file locks: one writer per knowledge base, and leases that keep a generation alive.

Both are ``flock`` locks (through portalocker), so the kernel releases them when the
holding process dies, ``kill -9`` included. flock locks belong to an open file, not a
process, so two openings in one process exclude each other as two processes would.

* ``writer.lock`` is held exclusively for a writer's lifetime; the holder writes its pid,
  host and start time into it so the refused caller can be told who holds it.
* ``generations/NNNNNN.lock`` is held *shared* by every reader of generation N. The
  writer removes a superseded generation only after taking that lock exclusively
  without waiting, which no reader can be holding at the time (Lucene's rule: only the
  writer deletes, and never a commit an open reader uses).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import weakref
from pathlib import Path

import portalocker

from rag_plugins.errors import KnowledgeBaseLockedError

WRITER_LOCK = "writer.lock"


def _try_lock(fd: int, flags: portalocker.LockFlags) -> bool:
    try:
        portalocker.lock(fd, flags | portalocker.LockFlags.NON_BLOCKING)
    except (portalocker.exceptions.LockException, BlockingIOError):
        return False
    return True


class WriterLock:
    """The exclusive writer lock of the knowledge base at ``directory``.

    >>> import tempfile
    >>> path = tempfile.mkdtemp()
    >>> first = WriterLock.acquire(path)
    >>> WriterLock.acquire(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rag_plugins.errors.KnowledgeBaseLockedError: ... is open for writing by pid ...
    >>> first.release(); WriterLock.acquire(path).release()
    """

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd
        self._finalizer = weakref.finalize(self, os.close, fd)

    @classmethod
    def acquire(cls, directory: str | os.PathLike, timeout: float = 0.0) -> "WriterLock":
        """Take the lock, waiting up to ``timeout`` seconds, or raise
        :class:`KnowledgeBaseLockedError` naming the holder."""
        path = Path(directory) / WRITER_LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(0.0, float(timeout))
        while not _try_lock(fd, portalocker.LockFlags.EXCLUSIVE):
            if time.monotonic() >= deadline:
                holder = _holder(fd)
                os.close(fd)
                raise KnowledgeBaseLockedError(
                    f"{Path(directory)} is open for writing by {holder}. One writer at a time: "
                    "open it with read_only=True to search it while it is written, pass "
                    "lock_timeout=SECONDS to wait for the writer, or close the other writer"
                )
            time.sleep(0.05)
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is not None:
            self._fd = None
            self._finalizer()  # closing the file releases the lock

    @property
    def held(self) -> bool:
        return self._fd is not None


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode())
        return f"pid {int(info['pid'])} on {info['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown (another process)"


def generation_name(generation: int) -> str:
    return f"{generation:06d}"


def lease_path(root: Path, generation: int) -> Path:
    return root / f"{generation_name(generation)}.lock"


class GenerationLease:
    """A shared lock on one generation: while any lease on it exists, the writer keeps
    its folder and the chunk rows it shows. Released when closed or garbage-collected."""

    def __init__(self, generation: int, fd: int | None):
        self.generation = generation
        self._finalizer = weakref.finalize(self, os.close, fd) if fd is not None else None

    @classmethod
    def acquire(cls, root: Path, generation: int) -> "GenerationLease | None":
        """The lease, or None when generation ``generation`` is gone or being removed
        (the caller re-reads the committed generation and tries again)."""
        folder = root / generation_name(generation)
        path = lease_path(root, generation)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            if not folder.is_dir():
                return None
            try:  # a base written before leases existed; the writer creates them now
                fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
            except OSError:  # read-only file system: nobody can remove the folder either
                return cls(generation, None)
        if not _try_lock(fd, portalocker.LockFlags.SHARED):
            os.close(fd)
            return None
        try:  # the writer unlinks the lock file after removing the folder
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same or not folder.is_dir():
            os.close(fd)
            return None
        return cls(generation, fd)

    def release(self) -> None:
        if self._finalizer is not None:
            self._finalizer()


def try_remove_generation(root: Path, generation: int) -> bool:
    """Writer only: remove generation ``generation`` if no reader holds a lease on it."""
    path = lease_path(root, generation)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd, portalocker.LockFlags.EXCLUSIVE):
            return False
        folder = root / generation_name(generation)
        if folder.exists():
            shutil.rmtree(folder)
        os.unlink(path)
        return True
    finally:
        os.close(fd)
