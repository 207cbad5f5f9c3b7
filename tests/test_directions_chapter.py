"""The `directions` chapter: parameters at every profile, refusals before compute, budgets that
`scale` shrinks, and its smoke run end to end through the runner."""
import json

import numpy as np
import pytest
from conftest import run_cli

from avalley import verdicts
from avalley.book import chapters, cli
from avalley.errors import ParameterError


def test_profiles_validate():
    for profile in chapters.PROFILES:
        values = chapters.for_profile("directions", profile)
        assert values["profile"] == profile
    quick = chapters.for_profile("directions", "quick")
    assert quick["seeds"] == [0, 1, 2, 3, 4]               # network findings: >= 5 seeds
    assert quick["n_bn"] >= 2048                            # BN re-estimated on enough images
    assert {"convnet-bn-fmnist", "convnet-fmnist", "mlp-mnist1d"} <= set(quick["recipe_names"])
    assert quick["bn_modes"] == ["eval", "recompute"]
    assert "uniform" in quick["direction_kinds"] and "gaussian" in quick["direction_kinds"]
    paper = chapters.for_profile("directions", "paper")
    assert set(paper["recipe_names"]) == {"densenet-bc-100-cifar10", "preresnet164-cifar100",
                                          "wrn-28-10-bn-cifar10", "wrn-28-10-cifar10"}
    assert paper["reach_unit"] == "absolute" and paper["reach"] == 10.0
    assert paper["reach_by_recipe"] == {"densenet-bc-100-cifar10": 9.0}
    assert paper["n_bn"] >= 50000 and len(paper["seeds"]) >= 5      # the whole training set
    for name in ("bn_recipe_name", "no_bn_recipe_name"):
        assert paper[name] in paper["recipe_names"]


def test_scale_shrinks_the_budgets_only():
    full = chapters.for_profile("directions", "quick")
    small = chapters.for_profile("directions", "quick", {"scale": 0.1})
    for name in ("n_directions", "n_eval", "n_bn", "n_cosine_directions", "check_images",
                 "max_rounds"):
        assert small[name] < full[name] or full[name] == 1, name
    assert small["n_cosine_directions"] >= 2 and small["max_rounds"] >= 1
    assert small["n_recompute_directions"] <= small["n_directions"]
    assert small["seeds"] == full["seeds"][:2]                 # the first two training seeds
    for name in ("reach", "points_per_doubling", "bn_batch"):
        assert small[name] == full[name], name


@pytest.mark.parametrize("name,value,valid", [
    ("bn_modes", '["foo"]', "'eval', 'recompute', 'batch'"),
    ("direction_kinds", '["uniform", "sphere"]', "'uniform', 'gaussian', 'filter', 'layer'"),
    ("subsets", '["weights"]', "'all', 'bn', 'non-bn'"),
    ("subset_bn_modes", '["frozen"]', "'eval', 'recompute', 'batch'"),
    ("recipe_names", '["resnet"]', "'convnet-bn-fmnist'"),
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


@pytest.mark.parametrize("name,value,message", [
    ("bn_recipe_name", "wrn-28-10-bn-cifar10", "is not one of recipe_names"),
    ("no_bn_recipe_name", "convnet-bn-fmnist", "two different recipes"),
    ("bn_recipe_name", "mlp-mnist1d", "is a network without BN"),
    ("direction_kinds", ["gaussian"], "must include 'uniform'"),
    ("reach_by_recipe", {"wrn-28-10-cifar10": 3.0}, "not in recipe_names"),
    ("subset_bn_modes", ["batch"], "are not in bn_modes"),
    ("n_recompute_directions", 5, "must be at most"),
    ("seeds", [0], "at least two"),
    ("seeds", [0, 0], "without repeats"),
    ("n_eval", 0, "at least 1"),
    ("n_cosine_directions", 1, "at least 2"),
])
def test_parameters_that_refer_to_each_other_are_refused(name, value, message):
    with pytest.raises(ParameterError, match=message):
        chapters.for_profile("directions", "quick", {name: value})


def test_a_no_bn_recipe_with_bn_is_refused():
    with pytest.raises(ParameterError, match="is a network with BN"):
        chapters.for_profile("directions", "quick", {
            "recipe_names": ["convnet-bn-fmnist", "wrn-28-10-bn-cifar10"],
            "no_bn_recipe_name": "wrn-28-10-bn-cifar10"})


def test_cross_parameter_refusal_is_a_plain_cli_message_before_compute(tmp_path):
    proc = run_cli("run", "directions", "-p", "bn_recipe_name", "wrn-28-10-bn-cifar10",
                   "--quiet", env_runs=tmp_path)
    err = proc.stderr.replace("\n", " ")
    assert proc.returncode == 2 and "Traceback" not in err
    assert "is not one of recipe_names" in err and "convnet-bn-fmnist" in err
    assert not (tmp_path / "directions").exists()          # no notebook was started


@pytest.mark.slow
def test_smoke_run(smoke_runs):
    out = smoke_runs("directions")
    res = json.loads((out / "results.json").read_text())
    p = res["parameters"]
    claims = {c["id"]: c for c in res["claims"]}
    check = claims["engine_matches_reference_loop"]
    assert check["kind"] == "check" and check["holds"], check
    findings = [c for c in res["claims"] if c["kind"] == "finding"]
    assert findings and all(c["verdict"] in verdicts.VERDICTS and c["rule"] == verdicts.RULE
                            for c in findings)
    assert all(c["unit"] == "training seeds" for c in findings)
    for kind in p["direction_kinds"]:
        for m in p["bn_modes"]:
            assert f"asymmetric_common_{p['bn_recipe_name']}_{kind}_{m}" in claims
            assert f"bn_raises_asymmetry_{kind}_{m}" in claims
        assert f"asymmetric_common_{p['no_bn_recipe_name']}_{kind}_none" in claims
    # one value per network (recipe x mode x kind x subset x seed) at every level fraction
    values = res["metrics"]["network_values"]
    assert {v["seed"] for v in values} == set(p["seeds"])
    assert {v["fraction"] for v in values} == {0.25, 0.5, 0.75}
    assert {v["subset"] for v in values} == {"all", *p["subsets"]}
    arrays = np.load(out / "arrays.npz")
    assert arrays["direction_log_ratios"].shape[1] == 3
    assert res["metrics"]["scans"]["points"] > 0
    # (the page's error outputs: test_book.py)
    assert "run.claim(" not in chapters.chapter_path("directions").read_text()  # no booleans
