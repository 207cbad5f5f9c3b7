"""Parameters of the chapter `intro` beyond profile, device and seed: domains, the values of
the smoke and paper profiles, rules. The defaults are the chapter's `parameters` cell."""
from avalley.book.domains import Budget, Count, Float, Positive

DOMAINS = {
    "c": Float(ge=1),
    "shift_spread": Positive(),
    "bias": Float(),
    "n_shifts": Budget(Count(2), minimum=1000),
    "lr": Positive(),
    "noise": Float(ge=0),
    "n_sgd_steps": Budget(Count(), minimum=100),
}
PROFILES = {
    "smoke": {"n_shifts": 2000, "n_sgd_steps": 200},
    "paper": {"n_shifts": 1_000_000, "n_sgd_steps": 20000},
}
