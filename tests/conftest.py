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


def toc_pages() -> list[str]:
    """The book's pages in _toc.yml order, as paths without suffix (`chapters/01_intro`)."""
    import yaml
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The built site (its _build/html folder), shared by every test of the session.

    The whole book is built once, with every chapter executed and --warningiserror (a
    chapter that raises, an unknown citation or a broken reference fails it), at the smoke
    profile (AVALLEY_PROFILE=smoke): the same cells, figures, tables and pages as `make book`
    at the quick profile, in minutes instead of the quick profile's 40 (which would leave
    no room in CI's 90 for the paper-profile test). AVALLEY_SITE=path/to/_build/html uses a
    site built before instead, e.g. the quick profile's from `make book`."""
    site = os.environ.get("AVALLEY_SITE")
    if site:
        path = Path(site).resolve()
        if not (path / "index.html").is_file():
            pytest.fail(f"AVALLEY_SITE={site} is not a built site (no index.html in it)")
        return path
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    env = {**os.environ, "AVALLEY_RUNS_DIR": str(out / "runs"),   # not the real data/runs
           "AVALLEY_PROFILE": "smoke"}
    proc = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out),
                           "--warningiserror", "--keep-going"],
                          capture_output=True, text=True, timeout=3600, env=env)
    (out / "build.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return out / "_build" / "html"


def fake_cifar(root: Path, name: str, n_train: int = 256, n_test: int = 128) -> Path:
    """A small CIFAR-10 or CIFAR-100 folder in torchvision's on-disk format (pickled dicts of
    uint8 rows), with every class present: the paper profile's code path without the real
    data. 256 training and 128 test images are what the recipes ask for at a tiny scale
    (two batches and one), so no subset is drawn."""
    import pickle

    import numpy as np

    from avalley import data
    _, folder, train, test, key = data.CIFAR[name]
    out = Path(root) / folder
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    classes = 100 if name == "cifar100" else 10
    for files, n in ((train, n_train), (test, n_test)):
        for i, f in enumerate(files):
            m = n // len(files) + (i < n % len(files))
            entry = {"data": rng.integers(0, 256, (m, 3072), dtype=np.uint8),
                     key: [int(v) for v in (np.arange(m) + i) % classes]}
            with open(out / f, "wb") as fh:
                pickle.dump(entry, fh)
    return out


@pytest.fixture(scope="session")
def smoke_runs(built_book, tmp_path_factory):
    """chapter -> the folder of its smoke-profile run (results.json, arrays.npz): the book
    build's own (it executes every chapter at the smoke profile), so the chapter tests check
    those runs instead of executing each chapter a second time. With AVALLEY_SITE (a site
    built elsewhere, no runs beside it) each chapter is run here through the CLI."""
    book_runs = built_book.parent.parent / "runs"
    own = tmp_path_factory.mktemp("smoke-runs")    # never beside a site of AVALLEY_SITE

    def folder(chapter: str) -> Path:
        out = book_runs / chapter / "smoke"
        if (out / "results.json").exists():
            return out
        proc = run_cli("run", chapter, "-p", "profile", "smoke", "--quiet", env_runs=own)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return own / chapter / "smoke"
    return folder
