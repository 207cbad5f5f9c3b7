"""What a chapter run records: `results.json` (parameters, environment, claims, metrics) and
`arrays.npz`, written atomically under `data/runs/CHAPTER/PROFILE/` (or $AVALLEY_RUNS_DIR).

Claims are of two kinds:
- a **check** tests the book's own method or a theorem's simulation: a boolean that must
  hold; a failing check makes `finish()` raise, so the book does not build;
- a **finding** is a claim of the paper, measured and reported either way: it carries the
  three-state verdict of `avalley.verdicts` (holds, fails, inconclusive) with its statistic,
  interval, rule and number of independent units, and the paper's value where it has one.

A long chapter saves each finished step (`run.step`) under `partial/` beside its results, so
that a rerun of an interrupted chapter with the same parameters picks up where it stopped;
`finish()` removes them, so a complete run always recomputes everything.
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

from ..atomic import jsonable, write_bytes, write_json, write_npz
from ..errors import CheckFailed
from ..runtime import Runtime, setup
from ..verdicts import Verdict
from . import chapters, page
from .paths import runs_dir


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

    def _add(self, claim: dict) -> dict:
        if any(c["id"] == claim["id"] for c in self.claims):
            raise ValueError(f"claim {claim['id']!r} recorded twice")
        self.claims.append(claim)
        return claim

    def check(self, id: str, statement: str, holds: bool, value=None, threshold=None,
              section: str | None = None) -> dict:
        """A claim about the book's own method that must hold (see the module docstring)."""
        return self._add({"id": id, "kind": "check", "statement": statement,
                          "holds": bool(holds), "value": jsonable(value),
                          "threshold": jsonable(threshold), "section": section})

    def finding(self, id: str, statement: str, verdict: Verdict, paper: str | None = None,
                section: str | None = None) -> dict:
        """A claim of the paper with its measured verdict. `paper`: the paper's own number
        or wording, shown beside the book's; `section`: the label of the section that
        discusses it."""
        if not isinstance(verdict, Verdict):
            raise TypeError("a finding needs an avalley.verdicts.Verdict (decide, paired or "
                            f"unmeasurable), not {type(verdict).__name__}")
        return self._add({"id": id, "kind": "finding", "statement": statement,
                          "verdict": verdict.verdict, "holds": verdict.holds,
                          "summary": verdict.describe(), **jsonable(verdict.as_dict()),
                          "paper": paper, "section": section})

    def claim(self, id, kind, statement, holds, value=None, threshold=None):
        """TRANSITIONAL: the boolean claims of the chapters not yet converted to verdicts."""
        if kind == "check":
            return self.check(id, statement, holds, value, threshold)
        return self._add({"id": id, "kind": "finding", "statement": statement,
                          "verdict": "holds" if holds else "fails", "holds": bool(holds),
                          "value": jsonable(value), "threshold": jsonable(threshold),
                          "rule": "boolean (not yet decided by avalley.verdicts)"})

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
            write_npz(self.out_dir / "arrays.npz", self.arrays)
        path = self.out_dir / "results.json"
        write_json(path, self.to_dict())
        return path

    def paper_scale(self) -> None:
        """Glue the page's paper-scale part (key CHAPTER_paper_scale; `avalley.book.bundle`):
        the committed bundle's findings beside this run's and the paper's published numbers,
        or, without a bundle, that the page shows this profile only and how to produce the
        paper-scale part. One line near the end of every chapter."""
        from . import bundle, published
        glue(f"{self.chapter}_paper_scale", _markdown(bundle.section(
            self.chapter, self.claims, self.profile, published.PUBLISHED.get(self.chapter))))

    def write_bundle(self) -> Path | None:
        """At the paper profile, write the paper-scale bundle (`avalley.book.bundle`): into
        data/paper/ at scale 1, into $AVALLEY_PAPER_DIR when set; a run at scale < 1
        without AVALLEY_PAPER_DIR writes none (it proves the code path only)."""
        from . import bundle
        if self.profile != "paper":
            return None
        if self.parameters.get("scale", 1.0) < 1 and "AVALLEY_PAPER_DIR" not in os.environ:
            print("no paper-scale bundle: a run at scale < 1 is a test of the code path",
                  file=sys.stderr)
            return None
        out = bundle.write(self.to_dict(), self.arrays)
        print(f"paper-scale bundle written to {out}", file=sys.stderr)
        return out

    def finish(self):
        """Save, drop the saved steps, write the paper-scale bundle (paper profile), glue the
        page's "rerun this chapter" box (key CHAPTER_rerun), and raise if any check failed;
        returns the claims table for the page."""
        path = self.save()
        shutil.rmtree(self.partial_dir, ignore_errors=True)   # the run is complete
        print(f"results written to {path}", file=sys.stderr)  # not on the rendered page
        failed = [c for c in self.claims if c["kind"] == "check" and not c["holds"]]
        if not failed:
            self.write_bundle()
        urls = page.publish(self.chapter, self.profile, [path, self.out_dir / "arrays.npz"])
        env = self.runtime.environment()
        paper_time = None
        if self.chapter in chapters.chapter_ids():
            paper_time = chapters.declaration(self.chapter).paper_time
            if paper_time is None:
                from . import plan
                paper_time = plan.chapter_estimate(self.chapter)
        glue(f"{self.chapter}_rerun", _markdown(page.rerun_box(
            self.chapter, self.parameters, env["wall_seconds"], env["device_name"], urls,
            paper_time)))
        if failed:
            raise CheckFailed("check(s) failed: " + "; ".join(
                f"{c['id']}: {c['statement']} (value {c['value']}, threshold {c['threshold']})"
                for c in failed))
        return self.claims_table()

    def claims_table(self):
        """The run's findings and checks as the book's other tables (`tables.format_table`)."""
        import pandas as pd

        from ..tables import format_table
        rows = [{"claim": c["id"], "kind": c["kind"], "statement": c["statement"],
                 "verdict": c.get("verdict", "holds" if c["holds"] else "FAILED"),
                 "measured": c.get("summary") or _fmt(c.get("value"))}
                for c in self.claims]
        return format_table(pd.DataFrame(rows, columns=["claim", "kind", "statement", "verdict",
                                                        "measured"]))


@functools.cache
def _code_digest(chapter: str) -> str:
    """Hash of the library's source and the chapter's text and declaration: a step saved by
    other code is not reused. Computed once per process (the code it describes is what was
    loaded), not at every step."""
    h = hashlib.sha256()
    files = sorted(Path(__file__).resolve().parents[1].rglob("*.py"))
    if chapter in chapters.chapter_ids():
        md = chapters.chapter_path(chapter)
        files += [md, md.with_suffix(".params.py")]
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}"
    return "" if v is None else str(v)


# `AVALLEY_PROFILE=smoke make book` builds every chapter at that profile instead of the
# parameter cells' (quick) values: a preview of the whole site in minutes (the tests' build),
# or the paper profile from a GPU machine's cache.
BOOK_PROFILE = "AVALLEY_PROFILE"


def start(chapter: str, namespace: dict) -> ChapterRun:
    """Called in a chapter's first cell after `parameters`: validate the parameters found in
    `namespace` (the notebook's globals) against the chapter's declaration (or take those of
    the profile AVALLEY_PROFILE names), set up the runtime, print its banner."""
    names = chapters.declaration(chapter).defaults
    values = chapters.validate(chapter, {k: namespace[k] for k in names if k in namespace})
    book_profile = os.environ.get(BOOK_PROFILE)
    if book_profile and book_profile != values["profile"]:
        # the whole book at another profile: that profile's values replace the parameter
        # cell's, for this run record and for the chapter's later cells alike
        values = chapters.for_profile(chapter, book_profile, {"device": values["device"]})
        namespace.update(values)
    rt = setup(device=values["device"], seed=values["seed"])
    glue(f"{chapter}_banner", _markdown(page.banner(chapter, values, rt.environment())))
    return ChapterRun(chapter=chapter, parameters=values, runtime=rt)


def _markdown(text: str):
    from IPython.display import Markdown
    return Markdown(text)


def load(chapter: str, profile: str = "quick") -> dict:
    path = runs_dir() / chapter / profile / "results.json"
    return json.loads(path.read_text())


def glue(name: str, value, display: bool = False):
    """myst_nb.glue for numbers in prose. NumPy 2 scalars repr as `np.float64(...)`, which
    `{glue:text}` cannot format, so scalars are converted to plain Python numbers first.
    Nothing is displayed where the call is, unless `display`."""
    from myst_nb import glue as _glue
    if isinstance(value, (np.generic,)) or (hasattr(value, "ndim") and value.ndim == 0):
        value = value.item()
    return _glue(name, value, display=display)
