"""Paper-scale results in the book: a small bundle per chapter, committed under
`data/paper/CHAPTER/`, and the part of each page that shows it.

A chapter run at the `paper` profile and scale 1 (on a GPU, through `python -m avalley
paper` or `avalley run CHAPTER -p profile paper`) writes its bundle when it finishes:
`results.json` (parameters, environment with the GPU's name, the commit and the wall time,
claims, metrics) and `arrays.npz` (the arrays behind its figures, compressed), at most
`MAX_BYTES` in all. A run at scale < 1 proves the code path only: its bundle is a test
artefact, and `write` refuses to put it into `data/paper/` (tests write theirs into a
temporary folder named by AVALLEY_PAPER_DIR).

`section(run)` is the page's "paper scale" part, the same for every chapter (one line near
the end of a chapter: `run.paper_scale()`): with a bundle, its findings beside this build's
and the paper's published numbers; without one, a plain statement that the page shows the
quick profile only, and the commands that produce the paper-scale part.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from .. import DATA_DIR
from ..atomic import jsonable, write_bytes, write_json
from .estimate import hours

PAPER_DIR = DATA_DIR / "paper"          # the committed bundles
MAX_BYTES = 5 * 2 ** 20                 # a bundle's size limit (results and arrays)


class BundleRefused(ValueError):
    """A bundle that must not be written where it was asked to go."""


def paper_dir() -> Path:
    """data/paper, or $AVALLEY_PAPER_DIR (the tests' temporary folder)."""
    return Path(os.environ.get("AVALLEY_PAPER_DIR", PAPER_DIR))


def _committed(folder: Path) -> bool:
    try:
        return folder.resolve() == PAPER_DIR.resolve() or \
            PAPER_DIR.resolve() in folder.resolve().parents
    except OSError:
        return False


def write(results: dict, arrays: dict, folder: Path | None = None) -> Path:
    """Write the bundle of a chapter run (`results`: its results.json content) into
    FOLDER/CHAPTER/ (default `paper_dir()`); returns that folder. Refuses a run that is not
    at the paper profile, a run at scale < 1 into data/paper/, and a bundle over
    MAX_BYTES."""
    chapter, p = results["chapter"], results["parameters"]
    base = Path(folder) if folder is not None else paper_dir()
    if p["profile"] != "paper":
        raise BundleRefused(f"a paper-scale bundle comes from the paper profile, not "
                            f"{p['profile']!r}")
    if p.get("scale", 1.0) < 1 and _committed(base):
        raise BundleRefused(
            f"chapter {chapter!r} ran at scale {p['scale']:g}: its bundle is a test artefact "
            f"and is never written into {PAPER_DIR} (set AVALLEY_PAPER_DIR, or "
            "`--bundle-dir`, to a temporary folder)")
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    blob = json.dumps(jsonable(results), indent=1).encode()
    size = len(buf.getvalue()) + len(blob)
    if size > MAX_BYTES:
        big = sorted(arrays, key=lambda k: -np.asarray(arrays[k]).nbytes)[:5]
        raise BundleRefused(f"the bundle of chapter {chapter!r} would take {size / 2**20:.1f} "
                            f"MB, over the {MAX_BYTES / 2**20:.0f} MB limit; largest arrays: "
                            f"{', '.join(big)}")
    out = base / chapter
    write_bytes(out / "arrays.npz", buf.getvalue())
    write_json(out / "results.json", results)
    return out


def load(chapter: str, folder: Path | None = None) -> dict | None:
    """The bundle's results.json of `chapter`, or None."""
    path = (Path(folder) if folder is not None else paper_dir()) / chapter / "results.json"
    return json.loads(path.read_text()) if path.exists() else None


def arrays(chapter: str, folder: Path | None = None) -> dict:
    path = (Path(folder) if folder is not None else paper_dir()) / chapter / "arrays.npz"
    if not path.exists():
        return {}
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def provenance(results: dict) -> str:
    e, p = results["environment"], results["parameters"]
    scale = p.get("scale", 1.0)
    note = (f" **at scale {scale:g}: a test of the code path, not a result**" if scale < 1
            else "")
    return (f"computed on {e['device_name']} from commit `{e['git_commit']}`, "
            f"{e.get('start_time', '')[:10]}, in {hours(e['wall_seconds'])} of wall time"
            f"{note}")


def commands(chapter: str) -> str:
    return (f"`python -m avalley paper --plan --chapters {chapter}` lists its jobs and their "
            f"estimated GPU time; `python -m avalley paper --chapters {chapter}` (add "
            "`--executor ray` or `--executor slurm` to spread them over GPUs) trains the "
            f"networks it needs, if any, and runs the chapter, which writes "
            f"`data/paper/{chapter}/`; commit "
            "that folder and rebuild the book")


def section(chapter: str, claims: list, profile: str, published: list | None = None,
            folder: Path | None = None) -> str:
    """The page's paper-scale part, in Markdown (see the module docstring). `claims`: this
    run's claims; `published`: rows (quantity, the paper's value, measure(results) -> str or
    None) of the paper's published numbers."""
    title = ""
    if profile == "paper":
        return ("This page itself was computed at the paper profile; at scale 1 its bundle "
                f"is written into `data/paper/{chapter}/` when the run ends (below scale 1 it "
                "is a test of the code path, and no bundle goes there).")
    b = load(chapter, folder)
    if b is None:
        return (title + f"This page shows the **{profile}** profile only: no paper-scale "
                f"results of this chapter are in the book yet. To produce them on a GPU "
                f"machine: {commands(chapter)}.")
    quick = {c["id"]: c for c in claims if c["kind"] == "finding"}
    found = [c for c in b["claims"] if c["kind"] == "finding"]
    lines = [title + f"The paper-scale run of this chapter was {provenance(b)}. Its findings, "
             f"beside this page's ({profile} profile) and the paper's:", ""]
    if found:
        lines += [f"| claim | paper scale | measured | {profile} | the paper |",
                  "|---|---|---|---|---|"]
        for c in found:
            q = quick.get(c["id"], {}).get("verdict", "—")
            lines.append(f"| {_cell(c['statement'])} | **{c['verdict']}** | "
                         f"{_cell(c.get('summary') or '—')} | {q} | "
                         f"{_cell(c.get('paper') or '—')} |")
    else:
        lines.append("The paper-scale run recorded no findings.")
    rows = [(q, paper, measure(b)) for q, paper, measure in (published or [])]
    if rows:
        lines += ["", "The paper's published numbers, beside the paper-scale run:", "",
                  "| quantity | published | paper-scale run |", "|---|---|---|"]
        lines += [f"| {_cell(q)} | {_cell(p)} | {_cell(m or '—')} |" for q, p, m in rows]
    checks = [c for c in b["claims"] if c["kind"] == "check"]
    if checks:
        lines += ["", f"Checks of the book's method in that run: "
                      f"{sum(c['holds'] for c in checks)} of {len(checks)} hold."]
    lines += ["", f"The numbers behind it: `data/paper/{chapter}/results.json` and "
                  "`arrays.npz`."]
    return "\n".join(lines)


def claims_section(chapter_ids: list[str], folder: Path | None = None) -> str:
    """The claims page's paper-scale part: the findings of every committed bundle, grouped by
    chapter as the scoreboard above groups this build's; or that there are none yet."""
    from . import page
    found = {c: b for c in chapter_ids if (b := load(c, folder)) is not None}
    missing = [c for c in chapter_ids if c not in found]
    how = ("On a GPU machine, `python -m avalley paper --plan` lists every job of the paper "
           "profile with its estimated GPU time, and `python -m avalley paper` (with "
           "`--executor ray` or `--executor slurm` to spread the jobs over GPUs) runs them; "
           "each chapter writes its bundle into `data/paper/CHAPTER/`, which is committed.")
    if not found:
        return ("No chapter has paper-scale results in the book yet: every verdict on this "
                f"page was measured at this build's profile. {how}")
    board = page.scoreboard(found)
    c = board["counts"]
    lines = ["Measured at the paper's scale, in runs committed under `data/paper/`:", ""]
    lines += [f"- **{ch}**: {provenance(b)}" for ch, b in found.items()]
    lines += ["", f"Of their findings, {c['holds']} hold, {c['fails']} fail and "
                  f"{c['inconclusive']} are inconclusive.", "", board["findings"]]
    if missing:
        lines += ["", f"No paper-scale results yet for: {', '.join(missing)}. {how}"]
    return "\n".join(lines)
