"""The results store: each chapter run writes `results.json` (and arrays in `arrays.npz`)
atomically under `data/runs/CHAPTER/PROFILE/`, with its parameters, environment and claims.

A long chapter saves each finished step (`run.step`) under `partial/` beside its results, so
that a rerun of an interrupted chapter with the same parameters picks up where it stopped;
`finish()` removes them, so a complete run always recomputes everything.

A claim is a `check` (the book's own method or a theorem's simulation; a failing check
makes the chapter raise, so the build fails) or a `finding` (a claim of the paper, reported
as measured either way).
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import DATA_DIR, params
from .atomic import jsonable, write_bytes, write_json
from .errors import CheckFailed
from .runtime import Runtime, setup

KINDS = ("check", "finding")


def runs_dir() -> Path:
    return Path(os.environ.get("AVALLEY_RUNS_DIR", DATA_DIR / "runs"))


@dataclass
class ChapterRun:
    chapter: str
    parameters: dict
    runtime: Runtime
    claims: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)

    @property
    def profile(self) -> str:
        return self.parameters["profile"]

    @property
    def out_dir(self) -> Path:
        return runs_dir() / self.chapter / self.profile

    def claim(self, id: str, kind: str, statement: str, holds: bool, value=None,
              threshold=None) -> dict:
        if kind not in KINDS:
            raise ValueError(f"claim kind must be one of {KINDS}, not {kind!r}")
        if any(c["id"] == id for c in self.claims):
            raise ValueError(f"claim {id!r} recorded twice")
        c = {"id": id, "kind": kind, "statement": statement, "holds": bool(holds),
             "value": jsonable(value), "threshold": jsonable(threshold)}
        self.claims.append(c)
        return c

    @property
    def partial_dir(self) -> Path:
        return self.out_dir / "partial"

    def step(self, name: str, compute):
        """`compute()`, or its saved value when an interrupted run with the same parameters,
        device type and code (the library and the chapter) already finished the step `name`.
        The value is pickled with torch.save, so tensors, arrays and dataclasses such as
        `landscape.Scan` all work."""
        import torch
        key = json.dumps([self.parameters, self.runtime.device.type, _code_digest(self.chapter),
                          name], sort_keys=True, default=str)
        path = self.partial_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.pt"
        if path.exists():
            return torch.load(path, map_location=self.runtime.device, weights_only=False)
        value = compute()
        buf = io.BytesIO()
        torch.save(value, buf)
        write_bytes(path, buf.getvalue())
        return value

    def metric(self, name: str, value) -> None:
        self.metrics[name] = jsonable(value)

    def array(self, name: str, value) -> None:
        self.arrays[name] = np.asarray(value)

    def to_dict(self) -> dict:
        return {"chapter": self.chapter, "profile": self.profile,
                "parameters": self.parameters, "environment": self.runtime.environment(),
                "claims": self.claims, "metrics": self.metrics,
                "arrays": sorted(self.arrays)}

    def save(self) -> Path:
        if self.arrays:
            buf = io.BytesIO()
            np.savez_compressed(buf, **self.arrays)
            write_bytes(self.out_dir / "arrays.npz", buf.getvalue())
        path = self.out_dir / "results.json"
        write_json(path, self.to_dict())
        return path

    def finish(self):
        """Save, print the claims, and raise if any check failed."""
        path = self.save()
        shutil.rmtree(self.partial_dir, ignore_errors=True)   # the run is complete
        failed = [c for c in self.claims if c["kind"] == "check" and not c["holds"]]
        # to stderr, which the book leaves off its pages: the path is the build machine's
        print(f"results written to {path}", file=sys.stderr)
        if failed:
            raise CheckFailed("check(s) failed: " + "; ".join(
                f"{c['id']}: {c['statement']} (value {c['value']}, threshold {c['threshold']})"
                for c in failed))
        return self.claims_table()

    def claims_table(self):
        import pandas as pd
        rows = [{"claim": c["id"], "kind": c["kind"], "statement": c["statement"],
                 "holds": "yes" if c["holds"] else "NO", "value": _fmt(c["value"]),
                 "threshold": _fmt(c["threshold"])} for c in self.claims]
        return pd.DataFrame(rows).style.hide(axis="index") if rows else pd.DataFrame()


@functools.cache
def _code_digest(chapter: str) -> str:
    """Hash of the library's source and the chapter's text: a step saved by other code is
    not reused. Computed once per process (the code it describes is what was loaded), not
    at every step."""
    h = hashlib.sha256()
    files = sorted(Path(__file__).parent.glob("*.py"))
    if chapter in params.chapter_ids():
        files.append(params.chapter_path(chapter))
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def start(chapter: str, namespace: dict) -> ChapterRun:
    """Called in a chapter's first cell after `parameters`: validate the parameters found in
    `namespace` (the notebook's globals), set up the runtime, print its banner."""
    names = params.defaults(chapter)
    values = params.validate(chapter, {k: namespace[k] for k in names if k in namespace})
    rt = setup(device=values.get("device", "auto"), seed=int(values.get("seed", 0)))
    return ChapterRun(chapter=chapter, parameters=values, runtime=rt)


def load(chapter: str, profile: str = "quick") -> dict:
    path = runs_dir() / chapter / profile / "results.json"
    return json.loads(path.read_text())


def glue(name: str, value, display: bool = False):
    """myst_nb.glue for numbers in prose. NumPy 2 scalars repr as `np.float64(...)`, which
    `{glue:text}` cannot format, so scalars are converted to plain Python numbers first."""
    from myst_nb import glue as _glue
    if isinstance(value, (np.generic,)) or (hasattr(value, "ndim") and value.ndim == 0):
        value = value.item()
    return _glue(name, value, display=display)
