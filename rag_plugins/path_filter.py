"""Which files under a folder a sync reads: include and exclude globs, and ``.gitignore``.

Globs use gitignore syntax (``docs/**/*.md``, ``*.log``, ``build/``) and match the path
relative to the folder given. Every ``.gitignore`` on the way down applies to its own
folder and below, as git applies it (negations within one file), through pathspec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rag_plugins.errors import InvalidInputError, MissingDependencyError


class PathFilter:
    """Decides, for one walked folder ``root``, whether a file or folder under it is kept.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / ".gitignore").write_text("build/\\n*.log\\n")
    >>> keep = PathFilter(root, include=["*.md", "*.log"], exclude=["drafts/"])
    >>> [keep.keeps(root / p, p.endswith("/")) for p in ("a.md", "b.txt", "c.log", "build/", "drafts/")]
    [True, False, False, False, False]
    """

    def __init__(self, root: Path, include: Sequence[str] = (), exclude: Sequence[str] = (), gitignore: bool = True):
        try:
            import pathspec
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingDependencyError("path filters need pathspec; pip install pathspec") from exc
        self._pathspec = pathspec
        self.root = root
        for name, globs in (("include", include), ("exclude", exclude)):
            if isinstance(globs, str) or not all(isinstance(g, str) and g.strip() for g in globs):
                raise InvalidInputError(f"{name} takes a list of non-empty glob strings, got {globs!r}")
        self.include = pathspec.GitIgnoreSpec.from_lines(include) if include else None
        self.exclude = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
        self.gitignore = gitignore
        self._ignores: dict[Path, object | None] = {}

    def keeps(self, path: Path, is_dir: bool) -> bool:
        rel = path.relative_to(self.root).as_posix() + ("/" if is_dir else "")
        if self.exclude is not None and self.exclude.match_file(rel):
            return False
        if self.gitignore and self._ignored(path, is_dir):
            return False
        # include globs name files; folders stay walked so their files can match
        return is_dir or self.include is None or self.include.match_file(rel)

    def _ignored(self, path: Path, is_dir: bool) -> bool:
        """Whether the ``.gitignore`` of any folder from the root down to ``path``'s parent
        ignores it (each matched against the path relative to its own folder)."""
        parts = path.relative_to(self.root).parts
        folder = self.root
        for i in range(len(parts)):
            spec = self._spec(folder)
            if spec is not None and spec.match_file("/".join(parts[i:]) + ("/" if is_dir else "")):
                return True
            folder = folder / parts[i]
        return False

    def _spec(self, folder: Path):
        if folder not in self._ignores:
            ignore = folder / ".gitignore"
            lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines() if ignore.is_file() else None
            self._ignores[folder] = self._pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        return self._ignores[folder]
