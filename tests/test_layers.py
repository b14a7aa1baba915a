"""The architecture, enforced: the layers of pyproject.toml's import-linter contract, and
no import cycle anywhere in the core or an integration (imports under TYPE_CHECKING and
inside functions count)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = ("import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
INTEGRATIONS = ("langchain_rag_plugins", "llama_index.retrievers.rag_plugins", "llama_index.postprocessor.rag_plugins")


def import_cycles(*packages: str) -> list[list[str]]:
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=False, cache_dir=None)
    edges = nx.DiGraph()
    for module in graph.modules:
        edges.add_node(module)
        edges.add_edges_from((module, imported) for imported in graph.find_modules_directly_imported_by(module))
    return [sorted(c) for c in nx.strongly_connected_components(edges) if len(c) > 1]


def test_the_layer_contract_is_kept() -> None:
    # its own process: import-linter configures logging, which would disable this run's loggers
    run = subprocess.run([sys.executable, "-c", LINT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


@pytest.mark.parametrize("packages", [("rag_plugins",), INTEGRATIONS], ids=["core", "integrations"])
def test_no_import_cycles(packages) -> None:
    assert import_cycles(*packages) == []


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch) -> None:
    package = tmp_path / "cyclic_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cyclic_pkg import b\n")
    (package / "b.py").write_text("def f():\n    from cyclic_pkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("cyclic_pkg") == [["cyclic_pkg.a", "cyclic_pkg.b"]]


def test_the_store_imports_no_retrieval() -> None:
    graph = grimp.build_graph("rag_plugins", exclude_type_checking_imports=False, cache_dir=None)
    above = ("rag_plugins.retrievers", "rag_plugins.graph.retriever", "rag_plugins.graph.combined", "rag_plugins.rerank",
             "rag_plugins.routing", "rag_plugins.iterative", "rag_plugins.catalog")
    store = [m for m in graph.modules if m.startswith("rag_plugins.store")]
    reached = {imported for m in store for imported in graph.find_modules_directly_imported_by(m)}
    assert sorted(m for m in reached if m.startswith(above)) == []


def protocols_defined_outside(package_dir: Path, home: Path) -> list[str]:
    """``module:Class`` for every ``typing.Protocol`` subclass defined in a module other than ``home``."""
    import ast

    found = []
    for path in sorted(package_dir.rglob("*.py")):
        if path == home:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    (isinstance(b, ast.Name) and b.id == "Protocol") or (isinstance(b, ast.Attribute) and b.attr == "Protocol")
                    for b in node.bases):
                found.append(f"{path.relative_to(package_dir).as_posix()}:{node.name}")
    return found


def test_every_protocol_lives_in_protocols_py(tmp_path) -> None:
    package = ROOT / "rag_plugins"
    assert protocols_defined_outside(package, package / "protocols.py") == []
    (tmp_path / "stray.py").write_text("import typing\nclass Stray(typing.Protocol):\n    name: str\n")
    assert protocols_defined_outside(tmp_path, tmp_path / "protocols.py") == ["stray.py:Stray"]
