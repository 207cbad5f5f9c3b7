"""What every chapter page shows around its content: a banner at the top (profile, device,
commit of this build), a "rerun this chapter" box at the end (commands, expected times, the
data behind the page), and the scoreboard of the claims page.

Inside a book build, `sphinx_hook` (a Sphinx extension listed in _config.yml) tells the
kernels where the site's static folder is; a finished chapter copies its `results.json` and
`arrays.npz` there, so that the page links to the numbers behind it.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

SITE_STATIC = "AVALLEY_SITE_STATIC"      # set by sphinx_hook for the kernels of a book build


def banner(chapter: str, parameters: dict, environment: dict) -> str:
    """One line in Markdown: what computed this page."""
    scale = parameters.get("scale", 1.0)
    shrunk = f", budgets shrunk by scale = {scale:g}" if scale < 1 else ""
    note = (" The `quick` profile is the book's CPU-sized version of the paper's experiments; "
            "see the box at the end of the page for the paper profile."
            if parameters["profile"] == "quick" else "")
    return (f"```{{note}}\nThis page was computed at the **{parameters['profile']}** profile"
            f"{shrunk}, on {environment['device_name']}, from commit "
            f"`{environment['git_commit']}`.{note}\n```")


def publish(chapter: str, profile: str, files: list[Path]) -> list[str]:
    """Inside a book build (and for the profile the book shows), copy the run's files into
    the site; returns their URLs relative to the chapter's page ([] outside a build)."""
    static = os.environ.get(SITE_STATIC)
    if not static or profile != "quick":
        return []
    folder = Path(static) / "runs" / chapter
    folder.mkdir(parents=True, exist_ok=True)
    urls = []
    for f in files:
        if f.exists():
            shutil.copyfile(f, folder / f.name)
            urls.append(f"../_static/runs/{chapter}/{f.name}")
    return urls


def rerun_box(chapter: str, parameters: dict, seconds: float, device_name: str,
              urls: list[str], paper_time: str | None) -> str:
    """The box at the end of a page, in Markdown."""
    other = parameters["seed"] + 1
    lines = [
        "```{admonition} Rerun this chapter",
        ":class: tip",
        f"This page took {seconds / 60:.1f} minutes on {device_name}. From the repository's "
        "root, after `make book` has set up `.venv`:",
        "",
        f"- another seed: `.venv/bin/python -m avalley run {chapter} -p seed {other}`",
        f"- the smoke profile (seconds, proves the code path): "
        f"`.venv/bin/python -m avalley run {chapter} -p profile smoke`",
        f"- the paper profile on a GPU: `.venv/bin/python -m avalley run {chapter} -p profile "
        "paper -p device cuda`" + (f" ({paper_time})" if paper_time else ""),
        f"- the same as independent jobs spread over GPUs (Ray or Slurm), from a shared "
        f"training cache: `.venv/bin/python -m avalley paper --chapters {chapter} --executor "
        "ray` (`--plan` lists them first)",
        "",
        "`.venv/bin/python -m avalley list` shows every parameter with its domain; the results "
        f"land in `data/runs/{chapter}/PROFILE/`.",
    ]
    if urls:
        links = ", ".join(f'<a href="{u}">{u.rsplit("/", 1)[1]}</a>' for u in urls)
        lines += ["", f"The numbers behind this page: {links}."]
    lines.append("```")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def scoreboard(results: dict[str, dict]) -> dict[str, str]:
    """The claims page's Markdown from the runs of a build ({chapter: results.json}):
    `header` (profile, device and commit, once), `findings` and `checks` (a table per
    chapter, each claim linked to the section that discusses it), and `counts`."""
    envs = {(r["profile"], r["environment"]["device_name"], r["environment"]["git_commit"])
            for r in results.values()}
    if len(envs) == 1:
        profile, device, commit = next(iter(envs))
        header = (f"All claims below were measured in this build: profile **{profile}**, on "
                  f"{device}, from commit `{commit}`.")
    else:
        header = "The chapters below were measured in different runs: " + "; ".join(
            f"{c}: profile {r['profile']}, {r['environment']['device_name']}, commit "
            f"`{r['environment']['git_commit']}`" for c, r in results.items()) + "."
    findings, checks, counts = [], [], {"holds": 0, "fails": 0, "inconclusive": 0}
    for chapter, r in results.items():
        f_rows = [c for c in r["claims"] if c["kind"] == "finding"]
        c_rows = [c for c in r["claims"] if c["kind"] == "check"]
        if f_rows:
            findings += [f"**{chapter}**", "", "| claim | verdict | measured | the paper | |",
                         "|---|---|---|---|---|"]
            for c in f_rows:
                counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
                link = f"{{ref}}`section <{c['section']}>`" if c.get("section") else ""
                findings.append(f"| {_cell(c['statement'])} | **{c['verdict']}** | "
                                f"{_cell(c.get('summary') or '—')} | {_cell(c.get('paper') or '—')}"
                                f" | {link} |")
            findings.append("")
        if c_rows:
            checks += [f"**{chapter}**", "", "| check | holds | value | threshold |",
                       "|---|---|---|---|"]
            for c in c_rows:
                checks.append(f"| {_cell(c['statement'])} | {'yes' if c['holds'] else 'NO'} | "
                              f"{_fmt(c.get('value'))} | {_fmt(c.get('threshold'))} |")
            checks.append("")
    return {"header": header, "findings": "\n".join(findings) or "No findings.",
            "checks": "\n".join(checks) or "No checks.", "counts": counts}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return "—" if v is None else _cell(v)
