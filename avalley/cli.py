"""`python -m avalley list` and `python -m avalley run CHAPTER [-p NAME VALUE]...`.

`run` converts the chapter's MyST text with jupytext, executes it with papermill and the
merged parameters (defaults < profile < -p), and leaves the executed notebook and the
chapter's results under data/runs/CHAPTER/PROFILE/.
"""
from __future__ import annotations

import argparse
import os
import sys
import textwrap

from . import CHAPTERS_DIR, choices, data, params
from .errors import ParameterError
from .profiles import PROFILE_VALUES


def cmd_list(_args) -> int:
    for chapter in params.chapter_ids():
        print(f"{chapter}  ({params.chapter_path(chapter).relative_to(CHAPTERS_DIR.parent)})")
        helps = params.comments(chapter)
        for name, value in params.defaults(chapter).items():
            per = {p: v[name] for p, v in PROFILE_VALUES.get(chapter, {}).items() if name in v}
            extra = "".join(f"  [{p}: {v!r}]" for p, v in per.items())
            note = f"  # {helps[name]}" if name in helps else ""
            print(f"    {name} = {value!r}{extra}{note}")
    return 0


def cmd_run(args) -> int:
    chapter = args.chapter
    params.chapter_path(chapter)                       # unknown chapter -> error
    base = params.defaults(chapter)
    given = {}
    for name, text in args.p or []:
        if name not in base:
            raise ParameterError(
                f"Unknown parameter {name!r} for chapter {chapter!r}. "
                f"Valid parameters: {', '.join(base)}.")
        given[name] = params.parse_value(name, text, base[name])
    profile = given.pop("profile", base.get("profile", "quick"))
    values = params.for_profile(chapter, profile, given)  # validates everything, no compute
    for name in sorted(choices.datasets_needed(values)):  # offline and absent: say so now
        data.ensure(name)

    import jupytext
    import papermill as pm

    from .results import runs_dir
    out = runs_dir() / chapter / profile
    out.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(params.chapter_path(chapter))
    src = out / f".{chapter}.input.ipynb"
    jupytext.write(nb, src, fmt="ipynb")
    dst = out / f"{chapter}.ipynb"
    print(f"running chapter {chapter!r} at profile {profile!r} -> {out}", file=sys.stderr)
    env_runs = os.environ.get("AVALLEY_RUNS_DIR")
    os.environ["AVALLEY_RUNS_DIR"] = str(runs_dir())    # the kernel inherits it
    try:
        pm.execute_notebook(str(src), str(dst), parameters=values, cwd=str(CHAPTERS_DIR),
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
    sub.add_parser("list", help="every chapter with its parameters and defaults")
    r = sub.add_parser("run", help="execute one chapter with papermill")
    r.add_argument("chapter")
    r.add_argument("-p", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="set a parameter (repeatable), e.g. -p profile paper -p device cuda")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--log-output", action="store_true", help="echo the notebook's output")
    args = ap.parse_args(argv)
    try:
        return {"list": cmd_list, "run": cmd_run}[args.cmd](args)
    except (ParameterError, FileNotFoundError) as e:
        print("error: " + textwrap.fill(str(e), 100, break_on_hyphens=False), file=sys.stderr)
        return 2
