"""Parameters of the chapter `bias` beyond profile, device and seed: domains, the values of
the smoke and paper profiles, and the rules between parameters. The defaults are the
chapter's `parameters` cell."""
from avalley import directions, landscape, recipes
from avalley.book.chapters import RecipeName, require
from avalley.book.domains import (
    Budget,
    Choice,
    Count,
    Float,
    Fraction,
    Int,
    ListOf,
    Positive,
    Seeds,
)
from avalley.book.needs import Evaluation, Network, images

# the recompute mode re-estimates BN statistics on at least this many of the recipe's
# batches (or on the whole training set), never on one batch
MIN_BN_BATCHES = 16

DOMAINS = {
    "c_values": ListOf(Float(ge=1)),
    "shift_spreads": ListOf(Positive()),
    "n_mc": Budget(Count(2), minimum=1000),
    "grid_k": ListOf(Count()),
    "grid_c": ListOf(Float(gt=1)),
    "grid_delta": ListOf(Positive()),
    "grid_l": ListOf(Positive()),
    "grid_xi": ListOf(Float(ge=0)),
    "recipe_name": RecipeName(),
    "train_seeds": Seeds(),
    "n_directions": Budget(Count(), minimum=2),
    "direction_kind": Choice(directions.KINDS, "one of the direction kinds"),
    "bn_mode": Choice(landscape.BN_MODES, "one of the BN modes"),
    "n_bn": Int(ge=0),                         # 0: the whole training set
    "n_eval": Budget(Count(), minimum=16),
    "l_max": Positive(),
    "n_points": Budget(Int(ge=3, odd=True), minimum=5, step=2),   # odd: l = 0 on the grid
    "delta_max": Positive(),
    "level_fractions": ListOf(Fraction()),
    "case_bias": Positive(),
}
PROFILES = {
    "smoke": {"n_mc": 5000, "grid_k": [1, 2], "grid_c": [2.0, 8.0], "grid_delta": [1.0, 2.0],
              "grid_l": [0.1, 0.5], "grid_xi": [0.0, 0.1], "recipe_name": "convnet-bn-digits",
              "train_seeds": [0, 1], "n_directions": 2, "n_bn": 0, "n_eval": 200,
              "n_points": 9, "l_max": 8.0, "delta_max": 4.0, "case_bias": 2.0},
    "paper": {"recipe_name": "preresnet164-cifar10", "n_mc": 1_000_000,
              "train_seeds": [0, 1, 2], "n_directions": 10, "n_bn": 0,
              "n_eval": 10000, "n_points": 41, "l_max": 10.0, "delta_max": 5.0,
              "case_bias": 2.0},
}


def rules(p):
    require(p["case_bias"] <= p["l_max"],
            f"case_bias = {p['case_bias']} must lie inside the scan, l_max = {p['l_max']}.")
    require(p["delta_max"] <= p["l_max"] / 2,
            f"delta_max = {p['delta_max']} must be at most half the scan's reach, "
            f"l_max/2 = {p['l_max'] / 2}, so that every shifted comparison keeps most of the "
            "scan's steps.")
    batch = recipes.get(p["recipe_name"]).batch_size
    require(p["n_bn"] == 0 or p["n_bn"] >= MIN_BN_BATCHES * batch,
            f"n_bn = {p['n_bn']}: the recompute mode needs at least {MIN_BN_BATCHES} batches "
            f"of the recipe's {batch} images ({MIN_BN_BATCHES * batch}), or 0 for the whole "
            "training set; BN statistics from one batch are noise.")


def needs(p):
    """The SGD network of every training seed; for the estimate, its line scans (per point:
    n_eval training and test images, and the BN statistics on n_bn training images, or on
    all of them, when BN is recomputed)."""
    n_train, _ = images(recipes.get(p["recipe_name"], scale=p["scale"]))
    bn = (p["n_bn"] or n_train) if p["bn_mode"] == "recompute" else 0
    return [Network(p["recipe_name"], s, False) for s in p["train_seeds"]] + [
        Evaluation(p["recipe_name"], len(p["train_seeds"]) * p["n_directions"]
                   * p["n_points"] * (2 * p["n_eval"] + bn), "line scans")]
