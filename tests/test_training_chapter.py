"""The `training` page: parameters at every profile, and its smoke run end to end."""
import json

import pytest
from conftest import run_cli

from avalley.book import chapters


def test_profiles_validate():
    for profile in ("smoke", "quick", "paper"):
        assert chapters.for_profile("training", profile)["profile"] == profile


@pytest.mark.slow
def test_smoke_run(smoke_runs):
    res = json.loads((smoke_runs("training") / "results.json").read_text())
    nets = res["metrics"]["networks"]
    # each recipe: SWA and last iterate of the SWA run, and the SGD baseline
    assert {(n["recipe"], n["solution"]) for n in nets} == {
        (r, s) for r in ("convnet-bn-digits", "mlp-mnist1d-tiny")
        for s in ("SWA", "last SGD iterate", "SGD baseline")}
    regime = {(r["recipe"], r["seed"]): r for r in res["metrics"]["regime"]}
    for n in nets:
        if n["solution"] == "SGD baseline":
            r = regime[n["recipe"], n["seed"]]
            assert abs(r["test / train loss (SGD)"] - n["test_loss"] / n["train_loss"]) < 1e-9


def test_unknown_recipe_refused(tmp_path):
    proc = run_cli("run", "training", "-p", "recipe_names", '["resnet-9000"]',
                   env_runs=tmp_path)
    assert proc.returncode == 2
    assert "resnet-9000" in proc.stderr and "convnet-bn-fmnist" in proc.stderr
    assert not (tmp_path / "training").exists()
