"""The `definition` chapter runs at the smoke profile and records its claims."""
import json

import pytest


@pytest.mark.slow
def test_definition_smoke_run(tmp_path, avalley_cli):
    proc = avalley_cli("run", "definition", "-p", "profile", "smoke", "--quiet",
                       env_runs=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "definition" / "smoke" / "results.json").read_text())
    claims = {c["id"]: c for c in res["claims"]}
    assert claims["checker_matches_analytic_truth"]["holds"] is True
    assert claims["checker_matches_analytic_truth"]["value"] == \
        claims["checker_matches_analytic_truth"]["threshold"]
    frac = claims["toy_ratio_fraction"]
    assert frac["kind"] == "finding" and 0.0 <= frac["value"] <= 1.0
    assert frac["holds"] == (frac["value"] >= 0.5)
    assert claims["toy_largest_c_slide_seed"]["kind"] == "finding"
    assert res["parameters"]["toy_seeds"] == 5
    assert res["metrics"]["slide_seed_flat_side"] in (1, -1)
    assert len(res["metrics"]["analytic_examples"]) == 10
