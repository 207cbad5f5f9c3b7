"""Profiles: `quick` is each chapter's own defaults (the book runs it); `smoke` proves the
code path in seconds for tests; `paper` is the paper's datasets, models and recipes, for a GPU.
Only the values that differ from the chapter's defaults are listed here.
"""

PROFILE_VALUES: dict[str, dict[str, dict]] = {}

PROFILE_VALUES["intro"] = {
    "smoke": {"n_shifts": 2000, "n_sgd_steps": 200},
    "paper": {"n_shifts": 1_000_000, "n_sgd_steps": 20000},
}

PROFILE_VALUES["definition"] = {
    "smoke": {},
    "paper": {},
}

PROFILE_VALUES["directions"] = {
    "smoke": {},
    "paper": {},
}

PROFILE_VALUES["bias"] = {
    "smoke": {},
    "paper": {},
}

PROFILE_VALUES["swa"] = {
    "smoke": {},
    "paper": {},
}
