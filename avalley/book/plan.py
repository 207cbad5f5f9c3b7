"""The paper-scale plan: every job a profile needs, derived from the chapters' own
declarations (never a second list), with an estimate of each job's GPU time.

For each chapter, its parameters at the profile (`chapters.for_profile`, with `scale`)
go through its declaration's `needs(p)` (avalley.book.needs): each `Network` becomes a
`TrainJob` for `recipes.get(recipe, seed, swa=swa, scale=scale)`, the very call the chapter
makes, so the job fills the cache entry the chapter reads; each `AfterSWA` an `AfterSWAJob`
after its SWA network; each `Evaluation` adds to the chapter's own estimate. Jobs that two
chapters share (the swa and bias chapters study the same PreResNet-164 runs) are one job.
Then one `ChapterJob` per chapter, after the jobs it needs, and the chapters that collect
the others' results (the claims page) last.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import recipes
from . import chapters, estimate
from .jobs import AfterSWAJob, ChapterJob, Job, TrainJob
from .needs import AfterSWA, Evaluation, Network

STAGES = ("train", "after_swa", "chapter", "collect")
STAGE_TITLES = {"train": "train the networks (one GPU each)",
                "after_swa": "SGD after SWA (one GPU each, after its SWA network)",
                "chapter": "execute the chapters from the cache (scans; a fraction of a GPU)",
                "collect": "collect the results (the claims page)"}


@dataclass
class Plan:
    profile: str
    scale: float
    gpu: estimate.GPU
    jobs: list = field(default_factory=list)          # in an order that respects deps
    parameters: dict = field(default_factory=dict)    # chapter -> its parameters

    def stage(self, job: Job) -> str:
        if job.kind == "chapter":
            return "collect" if chapters.declaration(job.chapter).collects else "chapter"
        return job.kind

    def stages(self) -> list[tuple[str, list[Job]]]:
        return [(s, [j for j in self.jobs if self.stage(j) == s]) for s in STAGES
                if any(self.stage(j) == s for j in self.jobs)]

    def by_key(self) -> dict:
        return {j.key: j for j in self.jobs}

    def total(self, jobs=None) -> float:
        return sum(j.estimate or 0.0 for j in (self.jobs if jobs is None else jobs))


def make(profile: str = "paper", scale: float = 1.0, only: list[str] | None = None,
         device: str = "auto", gpu: str = estimate.DEFAULT_GPU) -> Plan:
    """The plan for `profile` at `scale`, for every chapter or the chapters in `only` (and
    then only the jobs they need)."""
    from ..errors import ParameterError
    ids = chapters.chapter_ids()
    unknown = sorted(set(only or []) - set(ids))
    if unknown:
        raise ParameterError(f"Unknown chapter(s) {', '.join(map(repr, unknown))}. Valid "
                             f"chapters: {', '.join(ids)}.")
    if gpu not in estimate.GPUS:
        raise ParameterError(f"Unknown GPU class {gpu!r}. Valid: {', '.join(estimate.GPUS)}.")
    g = estimate.GPUS[gpu]
    plan = Plan(profile, scale, g)
    train: dict[str, TrainJob] = {}
    after: dict[str, AfterSWAJob] = {}
    chapter_jobs, collectors = [], []

    def train_job(name, seed, swa, scale_, chapter) -> TrainJob:
        r = recipes.get(name, seed, swa=swa, scale=scale_)
        job = TrainJob(r, name, estimate=estimate.train_seconds(r, g))
        job = train.setdefault(job.key, job)
        job.used_by = tuple(dict.fromkeys(job.used_by + (chapter,)))
        return job

    for chapter in [c for c in ids if not only or c in only]:
        values = chapters.for_profile(chapter, profile, {"scale": scale} if scale != 1 else {})
        values["device"] = device      # checked where the chapter runs, not on this machine
        plan.parameters[chapter] = values
        deps, scans = [], 0.0
        for need in chapters.needs(chapter, values):
            if isinstance(need, Network):
                deps.append(train_job(need.recipe, need.seed, need.swa, values["scale"],
                                      chapter).key)
            elif isinstance(need, AfterSWA):
                base = train_job(need.recipe, need.seed, True, values["scale"], chapter)
                job = AfterSWAJob(base.recipe, need.recipe, need.lr, need.max_epochs,
                                  deps=(base.key,), estimate=estimate.after_swa_seconds(
                                      base.recipe, need.max_epochs, g))
                job = after.setdefault(job.key, job)
                job.used_by = tuple(dict.fromkeys(job.used_by + (chapter,)))
                deps.append(job.key)
            elif isinstance(need, Evaluation):
                r = recipes.get(need.recipe, 0, scale=values["scale"])
                scans += estimate.eval_seconds(r, need.images, g)
            else:
                raise TypeError(f"chapter {chapter!r}: `needs` returned {need!r}")
        job = ChapterJob(chapter, values, deps=tuple(dict.fromkeys(deps)),
                         used_by=(chapter,), estimate=scans)
        (collectors if chapters.declaration(chapter).collects else chapter_jobs).append(job)
    for job in collectors:
        job.deps = tuple(j.key for j in chapter_jobs)
        job.after_failures = True
    plan.jobs = [*train.values(), *after.values(), *chapter_jobs, *collectors]
    return plan


def device_type(device: str, executor: str) -> str:
    """The device type the jobs will train on, to tell which are done already: `auto` means
    CUDA when this machine has it, or when the jobs run elsewhere (Ray, Slurm)."""
    if device != "auto":
        return device
    import torch
    return "cuda" if torch.cuda.is_available() or executor != "local" else "cpu"


def text(plan: Plan, done: dict[str, bool]) -> str:
    """The plan as a person reads it: every job by stage, with its estimate and whether it
    is done already, then the total and how the estimate is made."""
    lines = [f"Plan for the {plan.profile} profile"
             + (f" at scale {plan.scale:g}" if plan.scale != 1 else "")
             + f": {len(plan.jobs)} jobs, {sum(not d for d in done.values())} to do."]
    for stage, jobs in plan.stages():
        lines += ["", f"{STAGE_TITLES[stage]}: {len(jobs)} jobs, "
                      f"{estimate.hours(plan.total(jobs))}"]
        for j in jobs:
            mark = "done " if done[j.key] else "to do"
            note = "" if j.kind == "chapter" else f"  [{', '.join(j.used_by)}]"
            est = estimate.hours(j.estimate) if j.estimate else "no scans"
            lines.append(f"  {mark}  {est:>8}  {j.describe()}{note}")
    todo = [j for j in plan.jobs if not done[j.key]]
    longest = max((j.estimate or 0.0 for j in plan.jobs), default=0.0)
    lines += ["", f"Total: {estimate.hours(plan.total())} of GPU time "
                  f"({estimate.hours(plan.total(todo))} still to do); on many GPUs at once, "
                  f"no less than the longest job, {estimate.hours(longest)}, plus the "
                  "chapters after it.",
              f"Estimated for {plan.gpu.describe()}: a roofline of each network's operations "
              "(FLOPs at the arithmetic rate or bytes at the bandwidth, whichever is slower, "
              "plus a launch per kernel), bf16 training and exact-fp32 evaluation; the "
              "chapters' CPU work (simulations) is not counted. An optimistic estimate: "
              "expect real runs up to 2-3x longer, most for the thin networks "
              "(avalley/book/estimate.py)."]
    undeclared = [j.chapter for j in plan.jobs if j.kind == "chapter"
                  and chapters.declaration(j.chapter).needs is None
                  and not chapters.declaration(j.chapter).collects]
    if undeclared:
        lines.append("Chapters that declare no `needs` (no networks, no scans): "
                     f"{', '.join(undeclared)}.")
    return "\n".join(lines)


def as_dict(plan: Plan, done: dict[str, bool]) -> dict:
    return {"profile": plan.profile, "scale": plan.scale, "gpu": plan.gpu.name,
            "total_seconds": plan.total(),
            "jobs": [{"key": j.key, "kind": j.kind, "stage": plan.stage(j),
                      "job": j.describe(), "deps": list(j.deps), "used_by": list(j.used_by),
                      "estimate_seconds": j.estimate, "done": done[j.key],
                      **({"recipe": j.recipe.to_dict(), "recipe_name": j.name}
                         if j.kind in ("train", "after_swa") else {}),
                      **({"lr": j.lr, "max_epochs": j.max_epochs}
                         if j.kind == "after_swa" else {}),
                      **({"chapter": j.chapter} if j.kind == "chapter" else {})}
                     for j in plan.jobs]}


def chapter_estimate(chapter: str, profile: str = "paper", gpu: str = estimate.DEFAULT_GPU
                     ) -> str | None:
    """The rerun box's words for what `chapter` costs at `profile`: every job it needs, shared
    or not, by the planner's estimate."""
    plan = make(profile, only=[chapter], gpu=gpu)
    nets = [j for j in plan.jobs if j.kind != "chapter"]
    total = plan.total()
    if not nets and not total:
        return "no GPU work: its simulations run on the CPU, in minutes"
    what = f"{len(nets)} training jobs" + (", then the chapter's scans" if plan.total(
        [j for j in plan.jobs if j.kind == "chapter"]) else "")
    return (f"about {estimate.hours(total)} of GPU time on one {plan.gpu.name} by the "
            f"planner's estimate: {what}; `python -m avalley paper --plan --chapters "
            f"{chapter}` lists the jobs")
