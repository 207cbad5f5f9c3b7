"""The `bias` chapter: parameters at every profile, refusals, and its smoke run end to end."""
import json

import pytest

from avalley.book import chapters
from avalley.errors import ParameterError


def test_profiles_validate():
    for profile in ("smoke", "quick", "paper"):
        values = chapters.for_profile("bias", profile)
        assert values["profile"] == profile
    quick = chapters.for_profile("bias", "quick")
    assert quick["train_seeds"] == [0, 1, 2, 3, 4] and quick["recipe_name"] == "convnet-bn-fmnist"
    assert quick["bn_mode"] == "recompute" and quick["n_bn"] >= 2048
    paper = chapters.for_profile("bias", "paper")
    assert paper["n_eval"] >= 10000 and paper["recipe_name"] == "preresnet164-cifar10"
    assert paper["n_bn"] == 0                       # the whole training set, as the paper's code


def test_refusals():
    with pytest.raises(ParameterError, match="one batch"):
        chapters.for_profile("bias", "quick", {"n_bn": 128})      # the review's single batch
    with pytest.raises(ParameterError, match="half the scan"):
        chapters.for_profile("bias", "quick", {"delta_max": 4.0})
    with pytest.raises(ParameterError, match="Unknown parameter"):
        chapters.for_profile("bias", "quick", {"asym_ratio": 1.2})   # one threshold, the book's


@pytest.mark.slow
def test_smoke_run(smoke_runs):
    out = smoke_runs("bias")
    res = json.loads((out / "results.json").read_text())
    claims = {c["id"]: c for c in res["claims"]}
    for cid in ("best_bias_grows_with_c", "best_bias_matches_closed_form",
                "theorem1_case_order", "theorem1_bound_below_gain"):
        assert claims[cid]["kind"] == "check" and claims[cid]["holds"], claims[cid]
    assert claims["theorem1_case_order"]["value"] > 0          # some settings inside
    for cid in ("shift_gap_interior_minimum", "case2_lower_test_loss", "case2_higher_test_acc",
                "case3_higher_test_loss", "case3_lower_test_acc"):
        c = claims[cid]
        assert c["kind"] == "finding" and c["unit"] == "training seeds", c
        assert c["verdict"] in ("holds", "fails", "inconclusive")
    assert claims["shift_gap_interior_minimum"]["null"] == 0.5
    assert not any(c.get("rule", "").startswith("boolean") for c in res["claims"])
    m = res["metrics"]
    assert m["grid_inside_conditions"] <= m["grid_settings"]
    assert len(m["directions"]) == 4                            # 2 seeds × 2 directions
    assert {r["directions"] for r in m["shift_by_network"]} <= {"asymmetric", "all (context)"}
    assert (out / "arrays.npz").exists()
