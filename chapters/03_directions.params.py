"""Parameters of the chapter `directions` beyond profile, device, seed and scale: domains, the
values of the smoke and paper profiles, and the rules between parameters. The defaults are
the chapter's `parameters` cell (the quick profile)."""
from avalley import directions, landscape, recipes
from avalley.book.chapters import RecipeName, RecipeNames, require
from avalley.book.domains import Budget, Choice, Count, DictOf, Int, ListOf, Positive, Seeds
from avalley.book.needs import Evaluation, Network, has_bn


def _has_bn(recipe_name: str) -> bool:
    return has_bn(recipes.get(recipe_name).model)


def _modes(min_len: int = 1) -> ListOf:
    return ListOf(Choice(landscape.BN_MODES, "one of the BN modes"), min_len=min_len)


def _kinds(min_len: int = 1) -> ListOf:
    return ListOf(Choice(directions.KINDS, "one of the direction kinds"), min_len=min_len)


DOMAINS = {
    "recipe_names": RecipeNames(),
    "seeds": Seeds(),
    "bn_recipe_name": RecipeName(),
    "no_bn_recipe_name": RecipeName(),
    "direction_kinds": _kinds(),
    "n_directions": Budget(Count()),
    "n_recompute_directions": Budget(Count()),
    "bn_modes": _modes(),
    "subsets": ListOf(Choice(directions.SUBSETS, "one of the subsets"), min_len=0),
    "subset_direction_kinds": _kinds(min_len=0),
    "subset_bn_modes": _modes(min_len=0),
    "n_subset_directions": Budget(Count()),
    "n_cosine_directions": Budget(Count(2), minimum=2),     # a cosine needs a pair
    "reach": Positive(),
    "reach_unit": Choice(("weights", "absolute")),
    "reach_by_recipe": DictOf(RecipeName(), Positive()),
    "points_per_doubling": Count(),
    "first_points": Count(),
    "max_rounds": Budget(Int(ge=0), minimum=1),      # scan points, as a budget
    "n_eval": Budget(Count()),
    "n_bn": Budget(Count()),
    "bn_batch": Count(),
    "check_points": Count(2),
    "check_images": Budget(Count()),
    "check_tol": Positive(),
}
PROFILES = {
    "smoke": {"recipe_names": ["convnet-bn-digits", "convnet-digits", "mlp-mnist1d-tiny"],
              "bn_recipe_name": "convnet-bn-digits", "no_bn_recipe_name": "convnet-digits",
              "seeds": [0, 1], "n_directions": 2, "n_recompute_directions": 1,
              "n_cosine_directions": 4, "max_rounds": 6, "n_eval": 64, "n_bn": 128,
              "bn_batch": 64, "check_images": 32},
    # PAPER.md experiments 1, 7 and 8: DenseNet-BC-100 on CIFAR-10 over l in [-9, 9] and
    # PreResNet-164 on CIFAR-100 over [-10, 10] (unit directions, plain distances), WRN-28-10
    # with and without BN for the BN finding; BN re-estimated on the whole training set and
    # the loss on the whole training set, as the paper's code does
    "paper": {"recipe_names": ["densenet-bc-100-cifar10", "preresnet164-cifar100",
                               "wrn-28-10-bn-cifar10", "wrn-28-10-cifar10"],
              "bn_recipe_name": "wrn-28-10-bn-cifar10", "no_bn_recipe_name": "wrn-28-10-cifar10",
              "reach_unit": "absolute", "reach": 10.0,
              "reach_by_recipe": {"densenet-bc-100-cifar10": 9.0},
              "n_recompute_directions": 3, "n_subset_directions": 3,
              "subset_bn_modes": ["eval", "recompute"],
              "n_eval": 50000, "n_bn": 50000, "check_images": 500},
}


def rules(p):
    for name in ("bn_recipe_name", "no_bn_recipe_name"):
        require(p[name] in p["recipe_names"],
                f"{name} = {p[name]!r} is not one of recipe_names {p['recipe_names']}.")
    require(p["bn_recipe_name"] != p["no_bn_recipe_name"],
            "bn_recipe_name and no_bn_recipe_name must be two different recipes.")
    require(_has_bn(p["bn_recipe_name"]),
            f"bn_recipe_name = {p['bn_recipe_name']!r} is a network without BN.")
    require(not _has_bn(p["no_bn_recipe_name"]),
            f"no_bn_recipe_name = {p['no_bn_recipe_name']!r} is a network with BN.")
    bad = sorted(set(p["reach_by_recipe"]) - set(p["recipe_names"]))
    require(not bad, f"reach_by_recipe names recipe(s) {bad} that are not in recipe_names "
                     f"{p['recipe_names']}.")
    require("uniform" in p["direction_kinds"],
            "direction_kinds must include 'uniform': the findings are about the paper's U(0,1) "
            f"directions too. Given: {p['direction_kinds']}.")
    bad = sorted(set(p["subset_bn_modes"]) - set(p["bn_modes"]))
    require(not bad, f"subset_bn_modes {bad} are not in bn_modes {p['bn_modes']}.")
    require(p["n_recompute_directions"] <= p["n_directions"],
            f"n_recompute_directions = {p['n_recompute_directions']} must be at most "
            f"n_directions = {p['n_directions']}: they are the first of those directions.")
    require(len(p["seeds"]) >= 2,
            f"seeds = {p['seeds']}: a verdict over training seeds needs at least two.")


def needs(p):
    """The SGD network of every recipe and seed; and, for the estimate only, the scans: about
    2·(first_points + 4·points_per_doubling) points per direction (a first round and the
    doublings to the levels), each on n_eval images, plus n_bn more per point in recompute
    mode."""
    out = [Network(name, s, False) for name in p["recipe_names"] for s in p["seeds"]]
    per_dir = 2 * (p["first_points"] + 4 * p["points_per_doubling"])
    kinds = len(p["direction_kinds"])
    for name in p["recipe_names"]:
        bn = _has_bn(name)
        points = per_dir * kinds * p["n_directions"] * len(p["seeds"])
        images = points * p["n_eval"]
        if bn and "recompute" in p["bn_modes"]:
            images += (per_dir * kinds * p["n_recompute_directions"] * len(p["seeds"])
                       * (p["n_eval"] + p["n_bn"]))
        if bn:
            images += (per_dir * len(p["subsets"]) * len(p["subset_direction_kinds"])
                       * len(p["subset_bn_modes"]) * p["n_subset_directions"] * len(p["seeds"])
                       * p["n_eval"])
        out.append(Evaluation(name, images, "direction scans"))
    return out
