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
    "smoke": {"n_side": 40, "toy_seeds": 5},
    "paper": {"n_side": 3000},      # the toy model is already at the paper's scale
}

PROFILE_VALUES["directions"] = {
    "smoke": {"seeds": [0], "n_directions": 3, "n_subset_directions": 2, "n_eval": 64,
              "n_eval_test": 64, "gallery_points": 9, "plane_points": 5, "check_images": 32},
    # PAPER.md experiments 1 and 7: DenseNet-BC-100 on CIFAR-10 over l in [-9, 9], PreResNet-164
    # on CIFAR-100 over [-10, 10] (unit-length directions, plain distances), WRN-28-10 with and
    # without BN for the BN findings
    "paper": {"recipe_names": ["densenet-bc-100-cifar10", "preresnet164-cifar100",
                               "wrn-28-10-bn", "wrn-28-10"],
              "seeds": [0], "bn_recipe_name": "wrn-28-10-bn", "no_bn_recipe_name": "wrn-28-10",
              "plane_recipe_name": "densenet-bc-100-cifar10", "reach_unit": "absolute",
              "reach": 10.0, "reach_by_recipe": {"densenet-bc-100-cifar10": 9.0},
              "n_eval": 5000, "n_eval_test": 10000, "gallery_directions": 3,
              "plane_points": 25, "check_images": 500},
}

PROFILE_VALUES["bias"] = {
    "smoke": {"n_mc": 5000, "grid_k": [1, 2], "grid_c": [2.0, 8.0], "grid_delta": [1.0, 2.0],
              "grid_l": [0.1, 0.5], "grid_xi": [0.0, 0.1], "train_seeds": [0],
              "n_directions": 2, "n_eval": 200, "n_points": 9, "l_max": 8.0, "delta_max": 4.0,
              "case_bias": 2.0},
    "paper": {"n_mc": 1_000_000, "train_seeds": [0, 1, 2], "n_directions": 10,
              "n_eval": 10000, "n_points": 41, "l_max": 10.0, "delta_max": 5.0,
              "asym_window": 8.0, "case_bias": 2.0},
}

PROFILE_VALUES["swa"] = {
    "smoke": {"slope_ratios": [1.0, 5.0, 20.0], "sim_runs": 2000, "sim_steps": 400,
              "sim_burn_in": 50, "seeds": [0, 1], "after_epochs": 2, "line_points": 6,
              "line_test_size": 0},
    "paper": {"slope_ratios": [1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 40.0, 80.0],
              "sim_runs": 100000, "sim_steps": 10000, "sim_burn_in": 1000,
              "after_epochs": 50, "line_points": 201, "line_test_size": 0},
}

PROFILE_VALUES["training"] = {
    "smoke": {"recipe_names": ["convnet-bn", "mlp-mnist1d"]},
    "paper": {"recipe_names": ["convnet-bn", "convnet"]},
}
