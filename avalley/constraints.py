"""Rules between the parameters of one chapter (a name that must be one of a list the user
also sets, a count that must be positive), checked by `params.validate` with the names,
types and choices: so `avalley run` refuses a bad combination before any compute with a
plain message, and the chapter's first cell (the book build) checks the same rules.
"""
from __future__ import annotations

from .errors import ParameterError


def _one_of(p: dict, name: str, among: str) -> None:
    if p[name] not in p[among]:
        raise ParameterError(f"{name} = {p[name]!r} is not one of {among}. "
                             f"Valid choices: {', '.join(map(str, p[among]))}.")


def _no_repeats(p: dict, *names: str) -> None:
    for name in names:
        if not p[name] or len(set(p[name])) != len(p[name]):
            raise ParameterError(f"{name} must be a non-empty list without repeats, "
                                 f"got {p[name]}.")


def _at_least_one(p: dict, *names: str) -> None:
    for name in names:
        if p[name] < 1:
            raise ParameterError(f"{name} must be at least 1, got {p[name]}.")


def directions(p: dict) -> None:
    _no_repeats(p, "recipe_names", "seeds", "direction_kinds", "bn_modes")
    for name in ("bn_recipe_name", "no_bn_recipe_name", "plane_recipe_name"):
        _one_of(p, name, "recipe_names")
    if p["bn_recipe_name"] == p["no_bn_recipe_name"]:
        raise ParameterError("bn_recipe_name and no_bn_recipe_name must be two different "
                             "recipes.")
    bad = sorted(set(p["reach_by_recipe"]) - set(p["recipe_names"]))
    if bad:
        raise ParameterError(f"reach_by_recipe names recipe(s) {bad} that are not in "
                             f"recipe_names. Valid choices: {', '.join(p['recipe_names'])}.")
    if "uniform" not in p["direction_kinds"]:
        raise ParameterError("direction_kinds must include 'uniform': the findings are about "
                             f"the paper's U(0,1) directions. Given: {p['direction_kinds']}.")
    _one_of(p, "plane_direction_kind", "direction_kinds")
    _one_of(p, "plane_bn_mode", "bn_modes")
    if p["gallery_points"] < 3 or p["gallery_points"] % 2 == 0:
        raise ParameterError("gallery_points must be odd and at least 3 (0 on the grid), "
                             f"got {p['gallery_points']}.")
    _at_least_one(p, "n_directions", "n_eval", "n_eval_test", "plane_points", "check_points",
                  "check_images", "bn_batch")
    reaches = [p["reach"], *p["reach_by_recipe"].values()]
    if not all(r > 0 for r in reaches) or not p["def_p"] > 0 or not p["def_c"] > 1:
        raise ParameterError("reach (and every reach_by_recipe value) and def_p must be "
                             "positive, and def_c above 1.")


RULES = {"directions": directions}


def check(chapter: str, values: dict) -> None:
    """Raise ParameterError when the chapter's parameters contradict each other."""
    if chapter in RULES:
        RULES[chapter](values)
