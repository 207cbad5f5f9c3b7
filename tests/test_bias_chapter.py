"""The `bias` chapter: parameters at every profile, and its smoke run end to end."""
import json

import pytest
from conftest import run_cli

from avalley.book import chapters


def test_profiles_validate():
    for profile in ("smoke", "quick", "paper"):
        values = chapters.for_profile("bias", profile)
        assert values["profile"] == profile
    paper = chapters.for_profile("bias", "paper")
    assert paper["n_eval"] >= 10000 and paper["recipe_name"] == "preresnet164-cifar10"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    proc = run_cli("run", "bias", "-p", "profile", "smoke", "--quiet", env_runs=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "bias" / "smoke" / "results.json").read_text())
    claims = {c["id"]: c for c in res["claims"]}
    for cid in ("best_bias_grows_with_c", "best_bias_matches_closed_form",
                "theorem1_case_order", "theorem1_bound_below_gain"):
        assert claims[cid]["kind"] == "check" and claims[cid]["holds"], claims[cid]
    assert claims["theorem1_case_order"]["value"] > 0          # some settings inside
    for cid in ("shift_gap_interior_minimum", "case2_beats_case1_on_network"):
        assert claims[cid]["kind"] == "finding"
    m = res["metrics"]
    assert m["grid_inside_conditions"] <= m["grid_settings"]
    assert m["n_directions_total"] == 2
    assert (tmp_path / "bias" / "smoke" / "arrays.npz").exists()
