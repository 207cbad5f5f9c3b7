"""Execute one chapter with jupytext and papermill (`python -m avalley run`, and the chapter
jobs of `python -m avalley paper`)."""
from __future__ import annotations

import os
import sys

from . import chapters
from .paths import runs_dir


def execute_chapter(chapter: str, values: dict, quiet: bool = False,
                    log_output: bool = False) -> int:
    """Execute `chapter` with the validated parameters `values` through jupytext and
    papermill; the executed notebook and the results land in runs/CHAPTER/PROFILE/.
    Returns 0, or 1 when the chapter raised (after saying so in one line)."""
    import jupytext
    import papermill as pm

    profile = values["profile"]
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
                            kernel_name="python3", progress_bar=not quiet,
                            log_output=log_output)
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
