"""Where chapter runs go: data/runs/, or $AVALLEY_RUNS_DIR (a module of its own, so that the
record of a run, the runner and the jobs of the paper-scale plan share it without an import
circle)."""
import os
from pathlib import Path

from .. import DATA_DIR


def runs_dir() -> Path:
    return Path(os.environ.get("AVALLEY_RUNS_DIR", DATA_DIR / "runs"))
