"""Parameters of the chapter `bias` beyond profile, device and seed: domains, the values of
the smoke and paper profiles, and the rules between parameters. The defaults are the
chapter's `parameters` cell."""
from avalley import directions, landscape
from avalley.book.chapters import RecipeName, require
from avalley.book.domains import Budget, Choice, Count, Float, Int, ListOf, Positive, Seeds
from avalley.book.needs import Evaluation, Network

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
    "n_eval": Budget(Count(), minimum=16),
    "l_max": Positive(),
    "n_points": Budget(Int(ge=3, odd=True), minimum=5, step=2),   # odd: l = 0 on the grid
    "delta_max": Positive(),
    "asym_window": Positive(),
    "asym_ratio": Float(gt=1),
    "case_bias": Positive(),
}
PROFILES = {
    "smoke": {"n_mc": 5000, "grid_k": [1, 2], "grid_c": [2.0, 8.0], "grid_delta": [1.0, 2.0],
              "grid_l": [0.1, 0.5], "grid_xi": [0.0, 0.1], "recipe_name": "convnet-bn-digits",
              "train_seeds": [0], "n_directions": 2, "n_eval": 200, "n_points": 9,
              "l_max": 8.0, "delta_max": 4.0, "case_bias": 2.0},
    "paper": {"recipe_name": "preresnet164-cifar10", "n_mc": 1_000_000,
              "train_seeds": [0, 1, 2], "n_directions": 10,
              "n_eval": 10000, "n_points": 41, "l_max": 10.0, "delta_max": 5.0,
              "asym_window": 8.0, "case_bias": 2.0},
}


def rules(p):
    require(p["asym_window"] <= p["l_max"] and p["case_bias"] <= p["l_max"],
            f"asym_window = {p['asym_window']} and case_bias = {p['case_bias']} must lie "
            f"inside the scan, l_max = {p['l_max']}.")
    require(p["delta_max"] < 2 * p["l_max"],
            f"delta_max = {p['delta_max']} must be below the scan's width 2·l_max = "
            f"{2 * p['l_max']}, or no step l has l + δ inside the scan.")


def needs(p):
    """The SGD network of every training seed; its line scans (n_eval training and test
    images per point, the training images twice when BN is recomputed)."""
    per_point = (3 if p["bn_mode"] == "recompute" else 2) * p["n_eval"]
    return [Network(p["recipe_name"], s, False) for s in p["train_seeds"]] + [
        Evaluation(p["recipe_name"], len(p["train_seeds"]) * p["n_directions"]
                   * p["n_points"] * per_point, "line scans")]
