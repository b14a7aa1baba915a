"""The distributions as users install them: build the wheels (core and the three
integrations) and install them into a clean virtualenv with one pip command per
framework, so a package file missing from a wheel shows up here. Runs once per test run;
it needs the package index for the frameworks' own dependencies."""

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECTS = {"rag_plugins": REPO, "langchain_rag_plugins": REPO / "integrations/langchain",
            "llama_index_retrievers_rag_plugins": REPO / "integrations/llama_index",
            "llama_index_postprocessor_rag_plugins": REPO / "integrations/llama_index_postprocessor"}


def run(*cmd, **options):
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=1200, **options)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="session")
def wheels(tmp_path_factory):
    pytest.importorskip("build")
    dist = tmp_path_factory.mktemp("dist")
    for project in PROJECTS.values():
        run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, project, cwd=project)
    return dist


def test_every_wheel_holds_its_modules(wheels):
    import zipfile

    built = {p.name.split("-")[0]: p for p in wheels.glob("*.whl")}
    assert set(built) == set(PROJECTS)
    names = {dist: zipfile.ZipFile(path).namelist() for dist, path in built.items()}
    assert "rag_plugins/tools/passages.py" in names["rag_plugins"]
    assert "rag_plugins/mcp_server.py" in names["rag_plugins"] and "rag_plugins/cli/serve_mcp.py" in names["rag_plugins"]
    assert "langchain_rag_plugins/tools.py" in names["langchain_rag_plugins"]
    assert "llama_index/retrievers/rag_plugins/tools.py" in names["llama_index_retrievers_rag_plugins"]
    assert "llama_index/postprocessor/rag_plugins/base.py" in names["llama_index_postprocessor_rag_plugins"]
    assert not any(n.startswith("tests/") for files in names.values() for n in files)


def test_the_wheels_install_and_work_in_a_clean_virtualenv(wheels, tmp_path):
    env_dir = tmp_path / "clean"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--find-links", wheels]
    run(*pip, "langchain-rag-plugins", env=environ)                                              # LangChain users
    run(*pip, "llama-index-retrievers-rag-plugins", "llama-index-postprocessor-rag-plugins", env=environ)  # LlamaIndex
    assert run(python, REPO / "tests/packaging/smoke.py", cwd=tmp_path, env=environ).strip().endswith("wheels ok")
    assert "serve-mcp" in run(env_dir / "bin" / "rag-plugins", "--help", env=environ)
