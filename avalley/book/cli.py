"""`python -m avalley list | run CHAPTER [-p NAME VALUE]... | datasets [NAME...] | paper`.

`run` checks every parameter against the chapter's declaration and the datasets it needs,
then converts the chapter's MyST text with jupytext and executes it with papermill and the
merged parameters (defaults < profile < -p), leaving the executed notebook and the chapter's
results under data/runs/CHAPTER/PROFILE/. A user's mistake ends with exit code 2 and one
paragraph, before any compute; a chapter that raises, with exit code 1 and one line.

`paper` plans and runs everything a profile needs (the paper's by default) as independent
jobs on an executor (`avalley.book.plan`, `avalley.book.executors`); `--plan` only prints
the jobs with their estimated GPU time.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path

from .. import CHAPTERS_DIR
from ..errors import DatasetMissing, ParameterError
from . import chapters, datasets, record
from .execute import execute_chapter
from .paths import runs_dir


def cmd_list(_args) -> int:
    for chapter in chapters.chapter_ids():
        d = chapters.declaration(chapter)
        print(f"{chapter}  ({d.path.relative_to(CHAPTERS_DIR.parent)})")
        for name, value in d.defaults.items():
            per = {p: v[name] for p, v in d.profiles.items() if name in v}
            extra = "".join(f"  [{p}: {v!r}]" for p, v in per.items())
            note = f"  # {d.helps[name]}" if name in d.helps else ""
            print(f"    {name} = {value!r}{extra}{note}")
            print(f"        must be {d.domains[name].describe()}")
    return 0


def cmd_datasets(args) -> int:
    """Make the datasets of the book (or the named ones) available, before any chapter."""
    # the profile the book will build at (AVALLEY_PROFILE, else quick), checked here, before
    # any chapter runs
    profile = os.environ.get(record.BOOK_PROFILE) or "quick"
    if profile not in chapters.PROFILES:
        raise ParameterError(f"{record.BOOK_PROFILE}={profile!r} is not a profile; use one of "
                             f"{', '.join(chapters.PROFILES)} (or leave it unset for quick).")
    names = args.names or sorted(datasets.needed_by_book(profile))
    for name in names:
        datasets.ensure(name)
        print(f"{name}: available", file=sys.stderr)
    return 0


def cmd_run(args) -> int:
    chapter = args.chapter
    chapters.chapter_path(chapter)                       # unknown chapter -> error
    given = {name: chapters.parse(chapter, name, text) for name, text in args.p or []}
    profile = given.pop("profile", "quick")
    values = chapters.for_profile(chapter, profile, given)   # every domain and rule
    for name in sorted(chapters.datasets_needed(chapter, values)):
        datasets.ensure(name)                            # offline and absent: say so now
    return execute_chapter(chapter, values, quiet=args.quiet, log_output=args.log_output)


def cmd_paper(args) -> int:
    """Plan, and unless --plan run, every job of the profile (see the README)."""
    from . import executors, plan
    from .jobs import Settings

    only = [c.strip() for c in args.chapters.split(",") if c.strip()] if args.chapters \
        else None
    if args.executor not in executors.EXECUTORS:
        raise ParameterError(f"Unknown executor {args.executor!r}. Valid executors: "
                             f"{', '.join(executors.EXECUTORS)}.")
    if not 0 < args.scale <= 1:
        raise ParameterError(f"--scale must be in (0, 1], got {args.scale:g}.")
    from ..runtime import DEVICES, resolve_device
    if args.device not in DEVICES:
        raise ParameterError(f"Unknown device {args.device!r}. Valid devices: "
                             f"{', '.join(DEVICES)}.")
    if args.executor == "local" and not args.plan:
        resolve_device(args.device)       # cuda on a machine without CUDA: refused now
    if args.compile:
        os.environ["AVALLEY_COMPILE"] = "1"   # the plan's recipes and the jobs' agree
    p = plan.make(args.profile, args.scale, only, device=args.device, gpu=args.gpu)
    if args.no_chapters:
        p.jobs = [j for j in p.jobs if j.kind != "chapter"]
    for j in p.jobs:
        if j.kind == "chapter":
            j.redo = args.redo_chapters
    device_type = plan.device_type(args.device, args.executor)
    done = {j.key: j.done(device_type) for j in p.jobs}
    if args.plan:
        if args.json:
            print(json.dumps(plan.as_dict(p, done), indent=2, default=str))
        else:
            print(plan.text(p, done))
        return 0
    for name in sorted({d for c, v in p.parameters.items() if not only or c in only
                        for d in chapters.datasets_needed(c, v)}):
        datasets.ensure(name)
    root = Path(args.data_root).resolve() if args.data_root else None
    settings = Settings(
        device=args.device, threads=args.threads,
        cache_dir=str(root / "cache") if root else _abs_env("AVALLEY_CACHE_DIR"),
        runs_dir=str(root / "runs") if root else str(runs_dir().resolve()),
        datasets_dir=_abs_env("AVALLEY_DATASETS_DIR"),
        paper_dir=str(Path(args.bundle_dir).resolve()) if args.bundle_dir
        else _abs_env("AVALLEY_PAPER_DIR"),
        compile=args.compile, quiet=not args.verbose)
    options = executors.Options(
        ray_address=args.ray_address, ray_cpus=args.ray_cpus, ray_gpus=args.ray_gpus,
        train_gpus=args.train_gpus, scan_gpus=args.scan_gpus, cpus_per_job=args.cpus_per_job,
        slurm_cluster=args.slurm_cluster if args.slurm_cluster != "slurm" else None,
        slurm_partition=args.slurm_partition, slurm_time=args.slurm_time,
        slurm_gpus=args.slurm_gpus, logs=args.logs)
    print(plan.text(p, done).split("\n")[0] + f" Executor: {args.executor}.",
          file=sys.stderr, flush=True)
    if settings.threads is None and args.executor != "local":
        settings = Settings(**{**settings.__dict__, "threads": args.cpus_per_job})
    outcomes = executors.run(p, done, settings, args.executor, options,
                             log=executors.log_stderr)
    if args.outcomes:
        from ..atomic import write_json
        write_json(Path(args.outcomes), outcomes)
    bad = executors.failed(outcomes)
    print(f"{executors.summary(outcomes)}." + (
        " Rerun the same command to do only what is missing." if bad else ""),
        file=sys.stderr)
    return 1 if bad else 0


def _abs_env(name: str) -> str | None:
    value = os.environ.get(name)
    return str(Path(value).resolve()) if value else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m avalley",
        description="Run the chapters of the Asymmetric Valleys companion book.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="every chapter with its parameters, defaults and domains")
    r = sub.add_parser("run", help="execute one chapter with papermill")
    r.add_argument("chapter")
    r.add_argument("-p", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="set a parameter (repeatable), e.g. -p profile paper -p device cuda; "
                        "lists as Python literals or comma-separated: -p seeds 0,1,2")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--log-output", action="store_true", help="echo the notebook's output")
    d = sub.add_parser("datasets", help="make the datasets of the book (or the named ones) "
                                        "available, before any chapter runs")
    d.add_argument("names", nargs="*")
    _paper_parser(sub)
    args = ap.parse_args(argv)
    try:
        return {"list": cmd_list, "run": cmd_run, "datasets": cmd_datasets,
                "paper": cmd_paper}[args.cmd](args)
    except (ParameterError, DatasetMissing) as e:
        print("error: " + textwrap.fill(str(e), 100, break_on_hyphens=False), file=sys.stderr)
        return 2


def _paper_parser(sub) -> None:
    from . import estimate
    p = sub.add_parser(
        "paper", help="plan and run everything the paper profile needs, as jobs on an executor",
        description="Train every network the chapters need at the paper profile as independent "
                    "jobs, then execute the chapters from the shared training cache. Jobs are "
                    "keyed by their full configuration: a rerun does only what is missing.")
    p.add_argument("--plan", action="store_true",
                   help="print every job with its estimated GPU time and the total; compute "
                        "nothing")
    p.add_argument("--json", action="store_true", help="with --plan: the plan as JSON")
    p.add_argument("--executor", default="local",
                   help="local (this process, one job after another; the default), ray (a "
                        "multi-GPU node or a Ray cluster) or slurm (through submitit)")
    p.add_argument("--chapters", help="only these chapters and the jobs they need, "
                                      "comma-separated (default: every chapter)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="shrink every budget (the chapters' scale parameter); below 1 it proves "
                        "the code path and its results are test artefacts (default 1)")
    p.add_argument("--profile", default="paper", help=argparse.SUPPRESS)
    p.add_argument("--device", default="auto", help="auto (default), cuda, cpu or mps")
    p.add_argument("--gpu", default=estimate.DEFAULT_GPU, choices=sorted(estimate.GPUS),
                   help="the GPU class the estimate assumes (default %(default)s)")
    p.add_argument("--threads", type=int, help="torch CPU threads per job")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the training steps (Recipe.compile; networks of their "
                        "own in the cache)")
    p.add_argument("--no-chapters", action="store_true",
                   help="only train (and SGD after SWA); execute no chapter")
    p.add_argument("--redo-chapters", action="store_true",
                   help="execute the chapters even where results with the same parameters "
                        "exist")
    p.add_argument("--data-root", help="one folder for the training cache and the chapter "
                                       "runs (cache/, runs/), shared by every machine")
    p.add_argument("--bundle-dir", help="where chapters write their paper-scale bundle "
                                        "(default data/paper/; required below scale 1)")
    p.add_argument("--outcomes", help="write every job's outcome to this JSON file")
    p.add_argument("--verbose", action="store_true", help="progress bars and Ray's logs")
    g = p.add_argument_group("ray")
    g.add_argument("--ray-address", help="an existing Ray cluster (auto, ray://HOST:10001); "
                                         "default: start a local instance")
    g.add_argument("--ray-cpus", type=int, help="CPUs of a local instance (default: all)")
    g.add_argument("--ray-gpus", type=int, help="GPUs of a local instance (default: all)")
    g.add_argument("--train-gpus", type=float, default=1.0,
                   help="GPUs per training job (default 1)")
    g.add_argument("--scan-gpus", type=float, default=0.5,
                   help="GPUs per chapter job, fractional allowed (default 0.5)")
    g.add_argument("--cpus-per-job", type=int, default=1,
                   help="CPUs per job (Ray and Slurm), also its torch threads (default 1)")
    s = p.add_argument_group("slurm (submitit)")
    s.add_argument("--slurm-partition", help="the partition to submit to")
    s.add_argument("--slurm-time", type=int, default=24 * 60,
                   help="time limit per job, minutes (default 1440)")
    s.add_argument("--slurm-gpus", type=int, default=1, help="GPUs per job (default 1)")
    s.add_argument("--slurm-cluster", default="slurm", choices=["slurm", "local", "debug"],
                   help="submitit's cluster: slurm (default), or local / debug to run the "
                        "same path on this machine without Slurm")
    s.add_argument("--logs", default="data/paper-logs",
                   help="submitit's folder for logs and pickled jobs (on a shared "
                        "filesystem)")
