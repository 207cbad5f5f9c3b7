"""`python -m avalley list | run CHAPTER [-p NAME VALUE]... | datasets [NAME...]`.

`run` checks every parameter against the chapter's declaration and the datasets it needs,
then converts the chapter's MyST text with jupytext and executes it with papermill and the
merged parameters (defaults < profile < -p), leaving the executed notebook and the chapter's
results under data/runs/CHAPTER/PROFILE/. A user's mistake ends with exit code 2 and one
paragraph, before any compute; a chapter that raises, with exit code 1 and one line.
"""
from __future__ import annotations

import argparse
import os
import sys
import textwrap

from .. import CHAPTERS_DIR
from ..errors import DatasetMissing, ParameterError
from . import chapters, datasets
from .record import runs_dir


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
    names = args.names or sorted(datasets.needed_by_book())
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

    import jupytext
    import papermill as pm

    out = runs_dir() / chapter / profile
    out.mkdir(parents=True, exist_ok=True)
    path = chapters.chapter_path(chapter)
    src = out / f".{chapter}.input.ipynb"
    jupytext.write(jupytext.read(path), src, fmt="ipynb")
    dst = out / f"{chapter}.ipynb"
    print(f"running chapter {chapter!r} at profile {profile!r} -> {out}", file=sys.stderr)
    env_runs = os.environ.get("AVALLEY_RUNS_DIR")
    os.environ["AVALLEY_RUNS_DIR"] = str(runs_dir())    # the kernel inherits it
    try:
        pm.execute_notebook(str(src), str(dst), parameters=values, cwd=str(path.parent),
                            kernel_name="python3", progress_bar=not args.quiet,
                            log_output=args.log_output)
    except pm.PapermillExecutionError as e:
        print(f"error: chapter {chapter!r} raised {e.ename}: {e.evalue}\n"
              f"       (in cell In[{e.exec_count}]; the executed notebook, with the full "
              f"traceback: {dst})", file=sys.stderr)
        return 1
    finally:
        src.unlink(missing_ok=True)
        if env_runs is None:
            os.environ.pop("AVALLEY_RUNS_DIR", None)
    print(f"done: {dst}\n      {out / 'results.json'}", file=sys.stderr)
    return 0


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
    args = ap.parse_args(argv)
    try:
        return {"list": cmd_list, "run": cmd_run, "datasets": cmd_datasets}[args.cmd](args)
    except (ParameterError, DatasetMissing) as e:
        print("error: " + textwrap.fill(str(e), 100, break_on_hyphens=False), file=sys.stderr)
        return 2
