"""Chapter parameters: read from each chapter's cell tagged `parameters`, merged with the
chosen profile's values, and validated before any compute.

The quick profile is the chapter's own defaults (what the book executes). The smoke and
paper profiles override some of them; their values live in `avalley.profiles`.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from . import CHAPTERS_DIR
from .runtime import DEVICES, ParameterError, resolve_device

PROFILES = ("smoke", "quick", "paper")

_CELL = re.compile(r"```\{code-cell\}[^\n]*\n:tags: \[parameters\]\n(.*?)```", re.S)


def chapter_files(chapters_dir: Path = CHAPTERS_DIR) -> dict[str, Path]:
    """Chapter id -> file. Files carry a number prefix (`04_directions.md`) because Sphinx
    executes notebooks in file-name order: chapters that train shared networks run first,
    and the claims scoreboard runs last. The id is the name without the prefix."""
    files = sorted(chapters_dir.glob("*.md"))
    return {re.sub(r"^\d+_", "", f.stem): f for f in files}


def chapter_ids(chapters_dir: Path = CHAPTERS_DIR) -> list[str]:
    return list(chapter_files(chapters_dir))


def chapter_path(chapter: str, chapters_dir: Path = CHAPTERS_DIR) -> Path:
    files = chapter_files(chapters_dir)
    if chapter not in files:
        raise ParameterError(f"Unknown chapter {chapter!r}. Valid chapters: {', '.join(files)}.")
    return files[chapter]


def defaults(chapter: str, chapters_dir: Path = CHAPTERS_DIR) -> dict:
    """Names and default values of the chapter's `parameters` cell, in order."""
    text = chapter_path(chapter, chapters_dir).read_text()
    m = _CELL.search(text)
    if not m:
        raise ParameterError(f"Chapter {chapter!r} has no code cell tagged `parameters`.")
    out = {}
    for node in ast.parse(m.group(1)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def comments(chapter: str, chapters_dir: Path = CHAPTERS_DIR) -> dict:
    """The `# comment` after each parameter, used by `avalley list` as its help."""
    m = _CELL.search(chapter_path(chapter, chapters_dir).read_text())
    out = {}
    for line in m.group(1).splitlines():
        name = re.match(r"(\w+)\s*=.*?#\s*(.*)$", line)
        if name:
            out[name.group(1)] = name.group(2).strip()
    return out


def _typename(v) -> str:
    return type(v).__name__


def parse_value(name: str, text: str, default):
    """Parse a command-line string to the type of the parameter's default."""
    try:
        if isinstance(default, bool):
            low = text.strip().lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, str):
            return text
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ParameterError(
            f"Parameter {name!r} expects a {_typename(default)} (default {default!r}); "
            f"could not read {text!r} as one.") from None
    check_type(name, value, default)
    return value


def check_type(name, value, default):
    if default is None or value is None:
        return
    ok = isinstance(value, type(default)) or (isinstance(default, float)
                                              and isinstance(value, int)
                                              and not isinstance(value, bool))
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, bool):
        ok = False
    if not ok:
        raise ParameterError(
            f"Parameter {name!r} expects a {_typename(default)} (default {default!r}); "
            f"got {value!r} ({_typename(value)}).")


def _choices(name: str):
    """Valid values for parameters whose names say what they are."""
    from . import choices
    return choices.for_parameter(name)


def validate(chapter: str, values: dict, chapters_dir: Path = CHAPTERS_DIR) -> dict:
    """Check names, types and choices; return the complete parameter dict."""
    base = defaults(chapter, chapters_dir)
    unknown = sorted(set(values) - set(base))
    if unknown:
        raise ParameterError(
            f"Unknown parameter(s) {', '.join(map(repr, unknown))} for chapter {chapter!r}. "
            f"Valid parameters: {', '.join(base)}.")
    merged = {**base, **values}
    if merged.get("profile") not in PROFILES:
        raise ParameterError(f"Unknown profile {merged.get('profile')!r}. "
                             f"Valid profiles: {', '.join(PROFILES)}.")
    for name, value in merged.items():
        check_type(name, value, base[name])
        valid = _choices(name)
        if valid is None:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if item not in valid:
                raise ParameterError(f"Unknown {name} value {item!r} for chapter {chapter!r}. "
                                     f"Valid choices: {', '.join(map(str, valid))}.")
    from .constraints import check
    check(chapter, merged)                 # rules between parameters
    if "device" in merged:
        resolve_device(merged["device"])   # refuses cuda without CUDA, before compute
    return merged


def for_profile(chapter: str, profile: str, overrides: dict | None = None,
                chapters_dir: Path = CHAPTERS_DIR) -> dict:
    """Defaults, then the profile's values, then the user's overrides, validated."""
    from .profiles import PROFILE_VALUES
    if profile not in PROFILES:
        raise ParameterError(f"Unknown profile {profile!r}. Valid profiles: {', '.join(PROFILES)}.")
    values = dict(PROFILE_VALUES.get(chapter, {}).get(profile, {}))
    values["profile"] = profile
    values.update(overrides or {})
    return validate(chapter, values, chapters_dir)


__all__ = ["PROFILES", "DEVICES", "ParameterError", "chapter_ids", "defaults", "validate",
           "for_profile", "parse_value"]
