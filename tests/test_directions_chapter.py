"""The `directions` chapter: parameters at every profile, refusals before compute, and its
smoke run end to end through the runner."""
import json

import numpy as np
import pytest
from conftest import run_cli

from avalley.book import chapters, cli
from avalley.errors import ParameterError


def test_profiles_validate():
    for profile in chapters.PROFILES:
        values = chapters.for_profile("directions", profile)
        assert values["profile"] == profile
    quick = chapters.for_profile("directions", "quick")
    assert quick["n_directions"] >= 100 and len(quick["seeds"]) >= 2
    assert {"convnet-bn-fmnist", "convnet-fmnist", "mlp-mnist1d"} <= set(quick["recipe_names"])
    paper = chapters.for_profile("directions", "paper")
    assert set(paper["recipe_names"]) == {"densenet-bc-100-cifar10", "preresnet164-cifar100",
                                          "wrn-28-10-bn-cifar10", "wrn-28-10-cifar10"}
    assert paper["reach_unit"] == "absolute" and paper["reach"] == 10.0
    assert paper["reach_by_recipe"] == {"densenet-bc-100-cifar10": 9.0}
    for name in ("bn_recipe_name", "no_bn_recipe_name", "plane_recipe_name"):
        assert paper[name] in paper["recipe_names"]


@pytest.mark.parametrize("name,value,valid", [
    ("bn_modes", '["foo"]', "'eval', 'recompute', 'batch'"),
    ("direction_kinds", '["uniform", "sphere"]', "'uniform', 'gaussian', 'filter', 'layer'"),
    ("subsets", '["conv"]', "'all', 'bn', 'non-bn'"),
    ("recipe_names", '["resnet"]', "'convnet-bn-fmnist'"),
    ("plane_bn_mode", "frozen", "'recompute'"),
    ("reach_unit", "metres", "'weights', 'absolute'"),
])
def test_bad_choices_are_refused_before_compute(capsys, runs_dir, name, value, valid):
    assert cli.main(["run", "directions", "-p", name, value]) == 2
    err = capsys.readouterr().err
    assert f"Parameter '{name}'" in err and valid in err.replace("\n", " ")
    assert not runs_dir.exists()                 # nothing was executed or written


def test_in_notebook_validation():
    with pytest.raises(ParameterError, match="must be a dict"):
        chapters.validate("directions", {"reach_by_recipe": [9.0]})


@pytest.mark.slow
def test_smoke_run(tmp_path):
    proc = run_cli("run", "directions", "-p", "profile", "smoke", "--quiet", env_runs=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "directions" / "smoke"
    res = json.loads((out / "results.json").read_text())
    claims = {c["id"]: c for c in res["claims"]}
    check = claims["engine_matches_reference_loop"]
    assert check["kind"] == "check" and check["holds"], check
    for m in res["parameters"]["bn_modes"]:
        for cid in (f"uniform_asymmetric_fraction_{m}", f"bn_raises_median_ratio_{m}"):
            assert claims[cid]["kind"] == "finding" and claims[cid]["value"] is not None
    stats = res["metrics"]["statistics"]
    main = [r for r in stats if r["subset"] == "all"]
    # every model x kind x BN mode has its row, each with n_directions directions
    p = res["parameters"]
    assert len(main) == len(p["direction_kinds"]) * (len(p["bn_modes"]) + 2)
    assert all(r["directions"] == p["n_directions"] for r in main)
    assert {r["subset"] for r in stats} == {"all", *p["subsets"]}
    arrays = np.load(out / "arrays.npz")
    assert arrays["stats_curves"].shape[1] == 5
    assert np.all(arrays["stats_curves"][:, 2] > 0)            # the centre's loss
    assert arrays[f"plane_train_loss_{p['bn_modes'][0]}"].shape == (p["plane_points"],) * 2
    nb = json.loads((out / "directions.ipynb").read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", [])
                if o.get("output_type") == "error"]


@pytest.mark.parametrize("name,value,message", [
    ("bn_recipe_name", "wrn-28-10-bn-cifar10", "is not one of recipe_names"),
    ("no_bn_recipe_name", "convnet-bn-fmnist", "two different recipes"),
    ("plane_bn_mode", "batch", "is not one of bn_modes"),
    ("direction_kinds", ["gaussian"], "must include 'uniform'"),
    ("reach_by_recipe", {"wrn-28-10-cifar10": 3.0}, "not in recipe_names"),
    ("seeds", [0, 0], "without repeats"),
    ("gallery_points", 10, "an odd integer"),
    ("n_eval", 0, "at least 1"),
])
def test_parameters_that_refer_to_each_other_are_refused(name, value, message):
    with pytest.raises(ParameterError, match=message):
        chapters.for_profile("directions", "quick", {name: value})


def test_cross_parameter_refusal_is_a_plain_cli_message_before_compute(tmp_path):
    proc = run_cli("run", "directions", "-p", "bn_recipe_name", "wrn-28-10-bn-cifar10",
                   "--quiet", env_runs=tmp_path)
    err = proc.stderr.replace("\n", " ")
    assert proc.returncode == 2 and "Traceback" not in err
    assert "is not one of recipe_names" in err and "convnet-bn-fmnist" in err
    assert not (tmp_path / "directions").exists()          # no notebook was started
