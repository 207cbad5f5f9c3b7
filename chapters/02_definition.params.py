"""Parameters of the chapter `definition` beyond profile, device and seed: domains, the
values of the smoke and paper profiles, rules. The defaults are the chapter's `parameters`
cell."""
from avalley.book.chapters import require
from avalley.book.domains import Budget, Count, Float, Fraction, Int, ListOf, Positive

DOMAINS = {
    "n_side": Budget(Count(), minimum=20),
    "toy_seeds": Count(),
    "slide_seed": Int(ge=0),
    "toy_steps": Count(),
    "toy_lr": Positive(),
    "toy_reach": Positive(),
    "toy_n_side": Count(),
    "window": Positive(),
    "r_inner": Float(ge=0),          # r̄
    "r_outer": Positive(),           # r
    "level_fractions": ListOf(Fraction()),
}
PROFILES = {
    "smoke": {"n_side": 40, "toy_seeds": 5},
    "paper": {"n_side": 3000},      # the toy model is already at the paper's scale
}


def rules(p):
    require(p["r_inner"] < p["r_outer"],
            f"the window needs r_inner < r_outer (r̄ < r), got r_inner = {p['r_inner']} and "
            f"r_outer = {p['r_outer']}.")
    require(p["r_outer"] <= p["toy_reach"] and p["window"] <= p["toy_reach"],
            f"r_outer = {p['r_outer']} and window = {p['window']} must lie inside the scan, "
            f"toy_reach = {p['toy_reach']}.")
    require(p["slide_seed"] < p["toy_seeds"],
            f"slide_seed = {p['slide_seed']} must be one of the seeds run, 0 .. "
            f"{p['toy_seeds'] - 1} (toy_seeds = {p['toy_seeds']}).")
