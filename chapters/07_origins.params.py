"""Parameters of the chapter `origins` beyond profile, device, seed and scale: domains, the
values of the smoke and paper profiles, and the rules between parameters. The defaults are
the chapter's `parameters` cell."""
from avalley import directions, landscape, recipes
from avalley.book.chapters import RecipeName, require
from avalley.book.domains import Budget, Cases, Choice, Count, Float, Int, Positive, Seeds
from avalley.book.needs import AfterSWA, Evaluation, Network

DOMAINS = {
    "recipe_name": RecipeName(),
    "seeds": Seeds(min_len=2),
    "groups": Cases(Choice(directions.SUBSETS, "one of the parameter groups"), keep=2),
    "noises": Cases(Choice(directions.CENTRED, "one of the centred noises")),
    "sweep_noise": Choice(directions.CENTRED, "one of the centred noises"),
    "sweep_rhos": Cases(Float(gt=0.5, le=1), keep=2, last=True),   # ends at 1.0 (a rule)
    "n_directions": Budget(Count()),
    "normalize": Choice(("weights", "unit"), "one of"),
    "bn_mode": Choice(landscape.BN_MODES, "one of the BN modes"),
    "n_eval": Budget(Count(8), minimum=8),
    "reach": Positive(),
    "refine": Int(ge=0, le=10),
    "bninit_uniform_recipe": RecipeName(),
    "bninit_normal_recipe": RecipeName(),
    "bninit_seeds": Seeds(min_len=2),
    "after_lr": Positive(),
    "after_epochs": Budget(Count()),
    "n_hessian": Budget(Count(8), minimum=8),
    "lanczos_steps": Budget(Count(2), minimum=8),     # fewer leaves top eigenvalues unresolved
    "top_k": Budget(Count()),                        # a shrunk run resolves the top one
    "trace_probes": Budget(Count(2), minimum=2),
    "line_step": Float(gt=0, lt=0.5),
    "dense_points": Budget(Int(ge=11, odd=True), minimum=11, step=2),
    "residual_limit": Float(gt=0, le=1),
}
PROFILES = {
    "smoke": {"recipe_name": "convnet-bn-digits", "seeds": [0, 1],
              "bninit_uniform_recipe": "convnet-bn-digits-bninit-uniform",
              "bninit_normal_recipe": "convnet-bn-digits-bninit-normal",
              "bninit_seeds": [0, 1], "n_eval": 64, "after_epochs": 3, "n_hessian": 64,
              "lanczos_steps": 3, "trace_probes": 2, "dense_points": 21,
              "residual_limit": 1.0},
    # the paper's network for SWA (PreResNet-164 on CIFAR-10, PAPER.md experiment 4) and its
    # BN-initialization variants; Li et al. 2024 probe over lambda in [-1, 1] with
    # norm-scaled noise, as here with reach 1 and weights normalization
    "paper": {"recipe_name": "preresnet164-cifar10", "seeds": [0, 1, 2],
              "bninit_uniform_recipe": "preresnet164-cifar10-bninit-uniform",
              "bninit_normal_recipe": "preresnet164-cifar10-bninit-normal",
              "bninit_seeds": [0, 1, 2], "sweep_rhos": [0.625, 0.75, 0.875, 1.0],
              "n_directions": 3, "n_eval": 5000, "refine": 4, "after_epochs": 50,
              "n_hessian": 5000, "lanczos_steps": 20, "top_k": 3, "trace_probes": 20,
              "dense_points": 81},
}


def _variant(name: str, base: str, how: str) -> bool:
    """Whether recipe `name` is recipe `base` with its BN scales initialized `how`, and
    nothing else different."""
    a, b = recipes.get(name).to_dict(), recipes.get(base).to_dict()
    ka, kb = a.pop("model_kwargs"), b.pop("model_kwargs")
    return a == b and ka == {**kb, "bn_weight_init": how}


def rules(p):
    for key, how in (("bninit_uniform_recipe", "uniform"), ("bninit_normal_recipe", "normal")):
        require(_variant(p[key], p["recipe_name"], how),
                f"{key} = {p[key]!r} must be recipe_name = {p['recipe_name']!r} with its BN "
                f"scales initialized {how!r} and nothing else changed (e.g. "
                f"{p['recipe_name']}-bninit-{how}).")
    require(p["sweep_noise"] in p["noises"],
            f"sweep_noise = {p['sweep_noise']!r} must be one of noises {p['noises']}.")
    require(1.0 in p["sweep_rhos"],
            "sweep_rhos must include 1.0: the sign-replaced noise of the findings.")
    require("all" in p["groups"],
            f"groups must include 'all' (the BN-initialization and U(0,1) comparisons use it); "
            f"given {p['groups']}.")
    require(p["top_k"] <= p["lanczos_steps"],
            f"top_k = {p['top_k']} eigenvalues need at least as many Lanczos steps; "
            f"lanczos_steps = {p['lanczos_steps']}.")
    require(p["n_hessian"] <= p["n_eval"],
            f"n_hessian = {p['n_hessian']} images must be a subset of the n_eval = "
            f"{p['n_eval']} probe images.")


def needs(p):
    """The SGD baselines of every seed (and of the BN-initialization seeds), the two
    BN-initialization variants, the SWA runs and SGD after SWA (shared with the swa chapter);
    for the estimate, roughly: a dozen evaluations of n_eval images per probe, and four
    forward-equivalents of n_hessian images per Hessian-vector product."""
    name = p["recipe_name"]
    out = [Network(name, s, False) for s in dict.fromkeys(p["seeds"] + p["bninit_seeds"])]
    out += [Network(p[key], s, False) for key in ("bninit_uniform_recipe",
                                                   "bninit_normal_recipe")
            for s in p["bninit_seeds"]]
    out += [x for s in p["seeds"] for x in (Network(name, s, True),
                                            AfterSWA(name, s, p["after_lr"],
                                                     p["after_epochs"]))]
    specs = len(p["groups"]) * p["n_directions"] * (1 + 2 * len(p["noises"])) \
        + len(p["sweep_rhos"]) * p["n_directions"]
    nets = len(p["seeds"]) + 2 * len(p["bninit_seeds"])
    hvps = len(p["seeds"]) * 3 * (p["lanczos_steps"] + p["trace_probes"])
    out.append(Evaluation(name, nets * specs * 12 * p["n_eval"]
                          + hvps * 4 * p["n_hessian"], "probes and Hessian-vector products"))
    return out
