"""The jobs of the paper-scale plan: pure, idempotent, keyed by their full configuration.

- `TrainJob`: `training.train(recipe)`; its result is the training cache's entry for the
  recipe (`data/cache/train/KEY/`, KEY = the recipe, the device type and the training
  code's version), so a job whose network is in the cache does nothing, and a job that was
  killed resumes from the checkpoint of its last finished epoch.
- `AfterSWAJob`: `training.after_swa` from a cached SWA network, stored beside it, with a
  checkpoint every epoch too.
- `ChapterJob`: the chapter executed with papermill at the plan's parameters, reading every
  network from the cache (`AVALLEY_CACHED_ONLY`: a network the plan did not list is an
  error, not a silent training run); done when the chapter's `results.json` holds the same
  parameters; its finished scans are saved as it goes (`run.step`), so a rerun continues.

`execute(job, settings, upstream)` runs one job wherever an executor put it (this process, a
Ray worker, a Slurm task): it first applies `settings` (the shared folders, device, threads)
to the process, and returns an outcome dict instead of raising, so that one failure does
not stop the jobs that do not depend on it.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .. import ROOT


def _digest(obj) -> str:
    blob = json.dumps(obj, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Settings:
    """Where the jobs read and write (absolute paths: a cluster needs them on a shared
    filesystem), and how they compute. None keeps the process's own setting."""
    device: str = "auto"
    threads: int | None = None
    cache_dir: str | None = None
    runs_dir: str | None = None
    datasets_dir: str | None = None
    paper_dir: str | None = None      # where chapters write their paper-scale bundle
    compile: bool = False             # torch.compile the training steps (Recipe.compile)
    quiet: bool = True

    def env(self) -> dict:
        """The environment variables a job's process (and a chapter's kernel) needs."""
        out = {"PYTHONPATH": os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                           if p and p != str(ROOT)])}
        for name, value in (("AVALLEY_CACHE_DIR", self.cache_dir),
                            ("AVALLEY_RUNS_DIR", self.runs_dir),
                            ("AVALLEY_DATASETS_DIR", self.datasets_dir),
                            ("AVALLEY_PAPER_DIR", self.paper_dir),
                            ("AVALLEY_THREADS", self.threads)):
            if value is not None:
                out[name] = str(value)
        if self.compile:
            out["AVALLEY_COMPILE"] = "1"
        return out

    def apply(self) -> None:
        """Set `env()` in this process (the job's, and the kernels it starts inherit it)."""
        os.environ.update(self.env())
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))


@dataclass
class Job:
    kind = "job"
    deps: tuple = field(default=(), kw_only=True)     # keys of the jobs it needs first
    used_by: tuple = field(default=(), kw_only=True)  # chapters that need it
    estimate: float | None = field(default=None, kw_only=True)   # GPU seconds
    # runs even when a job it waits for failed (the claims page collects what there is)
    after_failures: bool = field(default=False, kw_only=True)

    @property
    def key(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def done(self, device_type: str) -> bool:
        raise NotImplementedError

    def run(self, settings: Settings) -> tuple[str, dict]:
        """Do the job; returns ("ran" or "cached", details)."""
        raise NotImplementedError


def _runtime(settings: Settings, seed: int):
    from ..runtime import setup
    return setup(device=settings.device, seed=seed, threads=settings.threads, quiet=True)


def _recipe_text(r) -> str:
    from .needs import images
    n_train, n_test = images(r)
    swa = f"SWA from epoch {r.swa_start} (lr {r.swa_lr:g})" if r.swa else "no SWA"
    extra = "".join(f", {k}={v}" for k, v in r.model_kwargs.items())
    return (f"{r.model} on {r.dataset} ({n_train}/{n_test} images{extra}), seed {r.seed}, "
            f"{r.epochs} epoch{'s' * (r.epochs != 1)}, {swa}")


@dataclass
class TrainJob(Job):
    recipe: object          # avalley.recipes.Recipe
    name: str               # the recipe's name in avalley.recipes
    kind = "train"

    @property
    def key(self) -> str:
        return f"train-{self.name}-s{self.recipe.seed}-{'swa' if self.recipe.swa else 'sgd'}-" \
               + _digest(self.recipe.to_dict())

    def describe(self) -> str:
        return _recipe_text(self.recipe)

    def folder(self, device_type: str) -> Path:
        from .. import training
        return training.cache_dir() / training.recipe_key(self.recipe, device_type)

    def done(self, device_type: str) -> bool:
        return (self.folder(device_type) / "result.pt").exists()

    def run(self, settings):
        from .. import training
        rt = _runtime(settings, self.recipe.seed)
        res = training.train(self.recipe, rt, progress=not settings.quiet)
        return ("cached" if res.from_cache else "ran",
                {"metrics": res.metrics, "cache_key": res.key, "train_seconds": res.seconds,
                 "device": rt.device_name()})


@dataclass
class AfterSWAJob(Job):
    recipe: object          # the SWA run's Recipe
    name: str
    lr: float
    max_epochs: int
    kind = "after_swa"

    @property
    def key(self) -> str:
        return f"after_swa-{self.name}-s{self.recipe.seed}-lr{self.lr:g}-" \
               f"max{self.max_epochs}-" + _digest(self.recipe.to_dict())

    def describe(self) -> str:
        epochs = f"{self.max_epochs} epoch" + "s" * (self.max_epochs != 1)
        return (f"SGD after SWA, lr {self.lr:g}, at most {epochs}, from "
                + _recipe_text(self.recipe))

    def done(self, device_type: str) -> bool:
        from .. import training
        folder = training.cache_dir() / training.recipe_key(self.recipe, device_type)
        return (folder / training.after_swa_folder(self.lr, self.max_epochs)
                / "result.pt").exists()

    def run(self, settings):
        from .. import training
        rt = _runtime(settings, self.recipe.seed)
        res = training.train(self.recipe, rt, progress=False)
        was_done = self.done(rt.device.type)
        after = training.after_swa(res, rt, lr=self.lr, max_epochs=self.max_epochs,
                                   progress=not settings.quiet)
        return ("cached" if was_done else "ran",
                {"found_epoch": after.found_epoch, "metrics": after.metrics,
                 "device": rt.device_name()})


@dataclass
class ChapterJob(Job):
    chapter: str
    parameters: dict
    redo: bool = False      # `paper --redo-chapters`: execute even if its results are there
    kind = "chapter"

    @property
    def key(self) -> str:
        return f"chapter-{self.chapter}-" + _digest(self.parameters)

    def describe(self) -> str:
        p = self.parameters
        scale = f", scale {p['scale']:g}" if p.get("scale", 1) < 1 else ""
        return f"chapter {self.chapter} at profile {p['profile']}{scale}"

    def results_path(self) -> Path:
        from .paths import runs_dir
        return runs_dir() / self.chapter / self.parameters["profile"] / "results.json"

    def done(self, device_type: str) -> bool:
        """Its results are there, with these parameters (never, when it is to be redone)."""
        path = self.results_path()
        if self.redo or not path.exists():
            return False
        try:
            return json.loads(path.read_text()).get("parameters") == self.parameters
        except ValueError:
            return False

    def run(self, settings):
        from .execute import execute_chapter
        if self.done(""):
            return "cached", {"results": str(self.results_path())}
        os.environ["AVALLEY_CACHED_ONLY"] = "1"     # the chapter trains nothing itself
        try:
            rc = execute_chapter(self.chapter, self.parameters, quiet=True)
        finally:
            os.environ.pop("AVALLEY_CACHED_ONLY", None)
        if rc != 0:
            raise RuntimeError(f"chapter {self.chapter!r} failed (exit code {rc}); the "
                               "executed notebook beside its results holds the traceback")
        return "ran", {"results": str(self.results_path())}


def outcome(job: Job, status: str, seconds: float = 0.0, **extra) -> dict:
    return {"key": job.key, "kind": job.kind, "job": job.describe(), "status": status,
            "seconds": round(seconds, 3), **extra}


def execute(job: Job, settings: Settings, upstream: tuple | list = ()) -> dict:
    """Run `job` here (see the module docstring); `upstream`: the outcomes of the jobs it
    depends on. Never raises: a failure is an outcome with its error and traceback."""
    bad = [u["key"] for u in upstream if u.get("status") in ("failed", "blocked")]
    if bad and not job.after_failures:
        return outcome(job, "blocked", error=f"needs {', '.join(bad)}, which did not finish")
    settings.apply()
    t0, c0 = time.time(), _cpu_seconds()
    try:
        status, details = job.run(settings)
    except Exception as e:     # reported, and the other jobs go on
        return outcome(job, "failed", time.time() - t0, error=f"{type(e).__name__}: {e}",
                       traceback=traceback.format_exc(),
                       cpu_seconds=round(_cpu_seconds() - c0, 1))
    return outcome(job, status, time.time() - t0, cpu_seconds=round(_cpu_seconds() - c0, 1),
                   **details)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (a chapter's kernel)."""
    import resource
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))
