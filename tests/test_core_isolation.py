import subprocess
import sys
from pathlib import Path

import pytest

from rag_plugins import _deps
from rag_plugins.errors import MissingDependencyError

REPO = Path(__file__).resolve().parents[1]


def test_core_never_imports_a_framework():
    code = ("import sys, pkgutil, importlib, rag_plugins\n"
            "for m in pkgutil.walk_packages(rag_plugins.__path__, 'rag_plugins.'): importlib.import_module(m.name)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('langchain', 'langchain_core', 'llama_index')]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_light_import_does_not_load_torch_or_faiss():
    code = "import sys, rag_plugins; sys.exit(any(m in sys.modules for m in ('torch', 'faiss', 'sentence_transformers')))"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_missing_optional_dependency_names_the_install_line(monkeypatch):
    import importlib

    real = importlib.import_module

    def fake(name, *a, **k):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real(name, *a, **k)

    monkeypatch.setattr(_deps.importlib, "import_module", fake)
    with pytest.raises(MissingDependencyError, match=r'pip install "rag-plugins\[dense\]"'):
        _deps.require("faiss", "Dense retrieval")
