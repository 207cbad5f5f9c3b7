"""The chapters and their parameters, declared once and checked before any compute.

A chapter is `chapters/NN_name.md` (id `name`) with a declaration `chapters/NN_name.params.py`
beside it. The chapter's cell tagged `parameters` holds the defaults (the `quick` profile,
what the book executes) with a `# comment` each; the declaration holds everything else about
the parameters:

    DOMAINS   name -> Domain (avalley.book.domains), one per parameter of the cell
    PROFILES  {"smoke": {...}, "paper": {...}}: the values that differ from the defaults
    rules(p)  optional: rules between parameters; raises ParameterError (use `require`)
    needs(p)  optional: the networks the run takes from the training cache, and the cost of
              its scans (avalley.book.needs); the paper-scale planner trains them first
    COLLECTS  optional, True: the chapter reads the other chapters' results (the claims
              page), so it runs after all of them
    PAPER_TIME optional: the paper profile's cost in words, for the rerun box (by default
              the planner's estimate)

`avalley run`, `avalley list`, the book build (the chapter's first cell calls `start`) and
the tests all read the same declaration.
"""
from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from .. import CHAPTERS_DIR, recipes
from ..errors import ParameterError
from ..runtime import DEVICES, resolve_device
from .domains import Choice, Domain, DomainError, Float, Int, ListOf

PROFILES = ("smoke", "quick", "paper")
# every chapter takes these four
COMMON = {"profile": Choice(PROFILES, "one of the profiles"),
          "device": Choice(DEVICES, "one of the devices"),
          "seed": Int(ge=0),
          # shrinks every budget (the recipes' epochs and images, the parameters declared as
          # a Budget, the lists of Seeds and Cases) and changes nothing else: proves a
          # profile's code path cheaply
          "scale": Float(gt=0, le=1)}

_CELL = re.compile(r"```\{code-cell\}[^\n]*\n:tags: \[parameters[^\]]*\]\n(.*?)```", re.S)


class RecipeName(Choice):
    """The name of a shared training recipe (avalley.recipes)."""

    def __init__(self):
        super().__init__(recipes.RECIPES, "one of the recipes")


def RecipeNames(min_len: int = 1) -> ListOf:
    return ListOf(RecipeName(), min_len=min_len)


@dataclass
class Declaration:
    chapter: str
    path: Path                  # the chapter's .md
    defaults: dict              # the parameters cell, in order
    helps: dict                 # the cell's comment of each parameter
    domains: dict               # name -> Domain
    profiles: dict              # profile -> values that differ from the defaults
    rules: object = None        # callable(p) or None
    paper_time: str | None = None   # what the paper profile costs, in words (rerun box)
    needs: object = None        # callable(p) -> [Network | AfterSWA | Evaluation], or None
    collects: bool = False      # reads the other chapters' results (runs after them)


def chapter_files(chapters_dir: Path = CHAPTERS_DIR) -> dict[str, Path]:
    """Chapter id -> .md file, in file-name order. Sphinx executes notebooks in that order,
    so the chapters that train shared networks run first and the scoreboard last. Pages
    without a declaration (a references page, say) are not chapters."""
    return {re.sub(r"^\d+_", "", f.stem): f for f in sorted(chapters_dir.glob("*.md"))
            if f.with_suffix(".params.py").exists()}


def chapter_ids(chapters_dir: Path = CHAPTERS_DIR) -> list[str]:
    return list(chapter_files(chapters_dir))


def chapter_path(chapter: str, chapters_dir: Path = CHAPTERS_DIR) -> Path:
    files = chapter_files(chapters_dir)
    if chapter not in files:
        raise ParameterError(f"Unknown chapter {chapter!r}. Valid chapters: {', '.join(files)}.")
    return files[chapter]


def parameters_cell(path: Path) -> str:
    m = _CELL.search(path.read_text())
    if not m:
        raise ParameterError(f"{path.name} has no code cell tagged `parameters`.")
    return m.group(1)


def _cell_values(cell: str) -> tuple[dict, dict]:
    defaults, helps = {}, {}
    for node in ast.parse(cell).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            defaults[node.targets[0].id] = ast.literal_eval(node.value)
    for line in cell.splitlines():
        m = re.match(r"(\w+)\s*=.*?#\s*(.*)$", line)
        if m:
            helps[m.group(1)] = m.group(2).strip()
    return defaults, helps


def declaration(chapter: str, chapters_dir: Path = CHAPTERS_DIR) -> Declaration:
    """The chapter's parameters: its cell's defaults and help, and its declaration file."""
    path = chapter_path(chapter, chapters_dir)
    defaults, helps = _cell_values(parameters_cell(path))
    side = path.with_suffix(".params.py")
    spec = importlib.util.spec_from_file_location(f"avalley_params_{chapter}", side)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    domains = {**COMMON, **mod.DOMAINS}
    if set(domains) != set(defaults):
        raise ParameterError(
            f"{side.name} and the parameters cell of {path.name} disagree: declared but not in "
            f"the cell: {sorted(set(domains) - set(defaults))}; in the cell but not declared: "
            f"{sorted(set(defaults) - set(domains))}.")
    return Declaration(chapter, path, defaults, helps, domains,
                       getattr(mod, "PROFILES", {}), getattr(mod, "rules", None),
                       getattr(mod, "PAPER_TIME", None), getattr(mod, "needs", None),
                       bool(getattr(mod, "COLLECTS", False)))


def needs(chapter: str, values: dict) -> list:
    """What a run of `chapter` with the validated parameters `values` takes from the training
    cache and evaluates (the declaration's `needs`; nothing when it has none)."""
    d = declaration(chapter)
    return list(d.needs(values)) if d.needs is not None else []


def require(condition: bool, message: str) -> None:
    """For a declaration's `rules`: refuse a combination of parameters with `message`."""
    if not condition:
        raise ParameterError(message)


def _refuse(d: Declaration, name: str, value, domain: Domain) -> None:
    raise ParameterError(
        f"Parameter {name!r} of chapter {d.chapter!r} must be {domain.describe()}; got "
        f"{value!r}. Its default is {d.defaults[name]!r}.")


def validate(chapter: str, values: dict, chapters_dir: Path = CHAPTERS_DIR) -> dict:
    """The complete parameters (defaults, then `values`), each checked against its domain,
    then the chapter's rules and the device; ParameterError names the first problem."""
    d = declaration(chapter, chapters_dir)
    unknown = sorted(set(values) - set(d.domains))
    if unknown:
        raise ParameterError(
            f"Unknown parameter(s) {', '.join(map(repr, unknown))} for chapter {chapter!r}. "
            f"Valid parameters: {', '.join(d.defaults)}.")
    merged = {**d.defaults, **values}
    out = {}
    for name, domain in d.domains.items():
        try:
            out[name] = domain.check(merged[name])
        except DomainError:
            _refuse(d, name, merged[name], domain)
    out = {name: out[name] for name in d.defaults}          # the cell's order
    if d.rules is not None:
        try:
            d.rules(out)
        except ParameterError as e:
            raise ParameterError(f"Parameters of chapter {chapter!r} contradict each other: "
                                 f"{e}") from None
    resolve_device(out["device"])       # refuses cuda on a machine without CUDA, before compute
    return out


def parse(chapter: str, name: str, text: str, chapters_dir: Path = CHAPTERS_DIR):
    """A command-line string for parameter `name`, read by its domain (checked later)."""
    d = declaration(chapter, chapters_dir)
    if name not in d.domains:
        raise ParameterError(f"Unknown parameter {name!r} for chapter {chapter!r}. "
                             f"Valid parameters: {', '.join(d.defaults)}.")
    return d.domains[name].parse(text)


def for_profile(chapter: str, profile: str, overrides: dict | None = None,
                chapters_dir: Path = CHAPTERS_DIR) -> dict:
    """Defaults, then the profile's values, then the user's overrides, validated."""
    d = declaration(chapter, chapters_dir)
    if profile not in PROFILES:
        _refuse(d, "profile", profile, COMMON["profile"])
    values = {**d.profiles.get(profile, {}), "profile": profile, **(overrides or {})}
    scale = values.get("scale", d.defaults["scale"])
    if isinstance(scale, (int, float)) and 0 < scale < 1:
        # the budgets of the profile shrink; values the user set explicitly do not
        for name, domain in d.domains.items():
            if name not in (overrides or {}):
                values[name] = domain.shrink(values.get(name, d.defaults[name]), scale)
    return validate(chapter, values, chapters_dir)


def datasets_needed(chapter: str, values: dict) -> set[str]:
    """The datasets a run with these parameters loads: those of the recipes it names."""
    d = declaration(chapter)
    out = set()
    for name, domain in d.domains.items():
        v = values[name]
        if isinstance(domain, RecipeName):
            v = [v]
        elif not (isinstance(domain, ListOf) and isinstance(domain.item, RecipeName)):
            continue
        out |= {recipes.get(r).dataset for r in v}
    return out
