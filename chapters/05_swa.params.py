"""Parameters of the chapter `swa` beyond profile, device and seed: domains, the values of
the smoke and paper profiles, and the rules between parameters. The defaults are the
chapter's `parameters` cell."""
from avalley import recipes
from avalley.book.chapters import RecipeNames, require
from avalley.book.domains import Budget, Choice, Count, Float, Int, ListOf, Positive, Seeds
from avalley.book.needs import AfterSWA, Evaluation, Network, images

ENDS = ("after_swa", "baseline", "last")
DOMAINS = {
    "slope_ratios": ListOf(Float(ge=1)),
    "flat_slope": Positive(),
    "random_flat_low": Float(gt=0, le=1),
    "random_sharp_high": Float(ge=1),
    "segment_length": Positive(),
    "sim_lr": Positive(),
    "sim_noise": Positive(),
    "sim_runs": Budget(Count(2), minimum=100),
    "sim_steps": Budget(Count(), minimum=20),
    "sim_burn_in": Budget(Int(ge=0), minimum=2),
    "recipe_names": RecipeNames(),
    "seeds": Seeds(),
    "after_lr": Positive(),
    "after_epochs": Budget(Count()),
    "line_to": Choice(ENDS),
    "line_points": Budget(Int(ge=6), minimum=6, step=5),
    "contrast_to": Choice(ENDS + ("none",)),
}
PROFILES = {
    "smoke": {"slope_ratios": [1.0, 5.0, 20.0], "sim_runs": 2000, "sim_steps": 400,
              "sim_burn_in": 50, "recipe_names": ["convnet-bn-digits"],
              "seeds": [0, 1], "after_epochs": 3, "line_points": 6},
    "paper": {"slope_ratios": [1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 40.0, 80.0],
              "sim_runs": 100000, "sim_steps": 10000, "sim_burn_in": 1000,
              "recipe_names": ["preresnet164-cifar10"], "seeds": [0, 1, 2],
              "after_epochs": 50, "line_points": 201},
}


def rules(p):
    require(p["sim_burn_in"] < p["sim_steps"],
            f"sim_burn_in = {p['sim_burn_in']} must be below sim_steps = {p['sim_steps']}.")
    require((p["line_points"] - 1) % 5 == 0,
            f"line_points = {p['line_points']} must be 5k + 1 (6, 11, 21, ..., 201), so that "
            "t = 0 (SWA) and t = 1 (the SGD end) lie on the grid over [-2, 3].")



def needs(p):
    """Per recipe and seed: the SWA run, its SGD baseline and SGD after SWA; then the lines
    (each point: the BN pass over the training images, the training and test sets)."""
    out = []
    for name in p["recipe_names"]:
        n_train, n_test = images(recipes.get(name, scale=p["scale"]))
        for s in p["seeds"]:
            out += [Network(name, s, True), Network(name, s, False),
                    AfterSWA(name, s, p["after_lr"], p["after_epochs"])]
            contrast = s == p["seeds"][0] and p["contrast_to"] not in ("none", p["line_to"])
            out.append(Evaluation(name, (1 + contrast) * p["line_points"]
                                  * (2 * n_train + n_test), "lines from SWA"))
    return out
