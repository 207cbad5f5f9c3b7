import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _temporary_cache(tmp_path_factory):
    """Tests never write into the real data/cache: trained networks go to a temporary cache
    (inherited by the chapters that tests run in subprocesses)."""
    old = os.environ.get("AVALLEY_CACHE_DIR")
    os.environ["AVALLEY_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("AVALLEY_CACHE_DIR", None)
    else:
        os.environ["AVALLEY_CACHE_DIR"] = old


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """Chapter runs write under a temporary data/runs for the test."""
    d = tmp_path / "runs"
    monkeypatch.setenv("AVALLEY_RUNS_DIR", str(d))
    return d


def run_cli(*args, env_runs=None, timeout=600):
    """`python -m avalley ARGS` in a subprocess; returns the CompletedProcess."""
    env = dict(os.environ)
    if env_runs is not None:
        env["AVALLEY_RUNS_DIR"] = str(env_runs)
    return subprocess.run([sys.executable, "-m", "avalley", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def avalley_cli():
    """Fixture form of run_cli, for tests: avalley_cli("run", "intro", env_runs=path)."""
    return run_cli
