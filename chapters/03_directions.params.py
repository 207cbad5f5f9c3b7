"""Parameters of the chapter `directions` beyond profile, device and seed: domains, the
values of the smoke and paper profiles, and the rules between parameters. The defaults are
the chapter's `parameters` cell."""
from avalley import directions, landscape, recipes
from avalley.book.chapters import RecipeName, RecipeNames, require
from avalley.book.domains import Budget, Choice, Count, DictOf, Float, Int, ListOf, Positive, Seeds
from avalley.book.needs import Evaluation, Network, has_bn

DOMAINS = {
    "recipe_names": RecipeNames(),
    "seeds": Seeds(),
    "bn_recipe_name": RecipeName(),
    "no_bn_recipe_name": RecipeName(),
    "direction_kinds": ListOf(Choice(directions.KINDS, "one of the direction kinds")),
    "n_directions": Budget(Count(), minimum=1),
    "bn_modes": ListOf(Choice(landscape.BN_MODES, "one of the BN modes")),
    "subsets": ListOf(Choice(directions.SUBSETS, "one of the subsets"), min_len=0),
    "subset_direction_kinds": ListOf(Choice(directions.KINDS, "one of the direction kinds"),
                                     min_len=0),
    "n_subset_directions": Budget(Count(), minimum=1),
    "reach": Positive(),
    "reach_unit": Choice(("weights", "absolute")),
    "reach_by_recipe": DictOf(RecipeName(), Positive()),
    "n_eval": Budget(Count(), minimum=8),
    "n_eval_test": Budget(Count(), minimum=8),
    "bn_batch": Count(),
    # odd: the centre l = 0 is on the grid
    "gallery_points": Budget(Int(ge=3, odd=True), minimum=3, step=2),
    "gallery_directions": Budget(Count()),
    "ratio_threshold": Float(gt=1),
    "def_p": Positive(),
    "def_c": Float(gt=1),                      # Definition 1 needs c > 1
    "plane_recipe_name": RecipeName(),
    "plane_direction_kind": Choice(directions.KINDS, "one of the direction kinds"),
    "plane_bn_mode": Choice(landscape.BN_MODES, "one of the BN modes"),
    "plane_points": Budget(Int(ge=3, odd=True), minimum=3, step=2),
    "check_points": Budget(Count()),
    "check_images": Budget(Count(), minimum=8),
    "check_tol": Positive(),
}
PROFILES = {
    "smoke": {"recipe_names": ["convnet-bn-digits", "convnet-digits", "mlp-mnist1d-tiny"],
              "bn_recipe_name": "convnet-bn-digits", "no_bn_recipe_name": "convnet-digits",
              "plane_recipe_name": "convnet-bn-digits",
              "seeds": [0], "n_directions": 3, "n_subset_directions": 2, "n_eval": 64,
              "n_eval_test": 64, "gallery_points": 9, "plane_points": 5, "check_images": 32},
    # PAPER.md experiments 1 and 7: DenseNet-BC-100 on CIFAR-10 over l in [-9, 9], PreResNet-164
    # on CIFAR-100 over [-10, 10] (unit-length directions, plain distances), WRN-28-10 with and
    # without BN for the BN findings
    "paper": {"recipe_names": ["densenet-bc-100-cifar10", "preresnet164-cifar100",
                               "wrn-28-10-bn-cifar10", "wrn-28-10-cifar10"],
              "seeds": [0], "bn_recipe_name": "wrn-28-10-bn-cifar10",
              "no_bn_recipe_name": "wrn-28-10-cifar10",
              "plane_recipe_name": "densenet-bc-100-cifar10", "reach_unit": "absolute",
              "reach": 10.0, "reach_by_recipe": {"densenet-bc-100-cifar10": 9.0},
              "n_eval": 5000, "n_eval_test": 10000, "gallery_directions": 3,
              "plane_points": 25, "check_images": 500},
}


def rules(p):
    for name in ("bn_recipe_name", "no_bn_recipe_name", "plane_recipe_name"):
        require(p[name] in p["recipe_names"],
                f"{name} = {p[name]!r} is not one of recipe_names {p['recipe_names']}.")
    require(p["bn_recipe_name"] != p["no_bn_recipe_name"],
            "bn_recipe_name and no_bn_recipe_name must be two different recipes.")
    bad = sorted(set(p["reach_by_recipe"]) - set(p["recipe_names"]))
    require(not bad, f"reach_by_recipe names recipe(s) {bad} that are not in recipe_names "
                     f"{p['recipe_names']}.")
    require("uniform" in p["direction_kinds"],
            "direction_kinds must include 'uniform': the findings are about the paper's U(0,1) "
            f"directions. Given: {p['direction_kinds']}.")
    require(p["plane_direction_kind"] in p["direction_kinds"],
            f"plane_direction_kind = {p['plane_direction_kind']!r} is not one of "
            f"direction_kinds {p['direction_kinds']}.")
    require(p["plane_bn_mode"] in p["bn_modes"],
            f"plane_bn_mode = {p['plane_bn_mode']!r} is not one of bn_modes {p['bn_modes']}.")



def needs(p):
    """The SGD network of every recipe and seed; and, for the estimate, the scans: five
    points per statistics direction (and per subset direction), the gallery curves and the
    plane, each point on n_eval training images per BN mode (twice when BN is recomputed)
    and its test images (16 for the statistics)."""
    out = [Network(name, s, False) for name in p["recipe_names"] for s in p["seeds"]]
    for name in p["recipe_names"]:
        bn = has_bn(recipes.get(name).model)
        modes = p["bn_modes"] if bn else ["eval"]
        train = sum(2 if m == "recompute" else 1 for m in modes) * p["n_eval"]

        def cost(points, test=16):
            return points * (train + len(modes) * test)
        kinds = len(p["direction_kinds"])
        images = cost(5 * p["n_directions"] * kinds) + cost(
            p["gallery_directions"] * p["gallery_points"] * kinds, p["n_eval_test"])
        if bn:
            images += cost(5 * p["n_subset_directions"] * len(p["subsets"])
                           * len(p["subset_direction_kinds"]))
        if name == p["plane_recipe_name"]:
            images += cost(p["plane_points"] ** 2)
        out.append(Evaluation(name, images, "direction scans"))
    return out
