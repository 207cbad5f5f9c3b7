"""The `swa` chapter at the smoke profile: it runs, records its claims, and the line from SWA
to SGD starts and ends at the two solutions' losses."""
import json

import pytest
from conftest import run_cli

from avalley.book import chapters


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    proc = run_cli("run", "swa", "-p", "profile", "smoke", "--quiet", env_runs=runs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((runs / "swa" / "smoke" / "results.json").read_text())


@pytest.mark.slow
def test_claims_recorded(smoke):
    claims = {c["id"]: c for c in smoke["claims"]}
    assert claims["theorem2_bias_where_conditions_hold"]["holds"]
    assert claims["theorem2_symmetric_unbiased"]["holds"]
    for name in smoke["parameters"]["recipe_names"]:
        for cid in (f"swa_higher_train_loss_{name}", f"swa_lower_test_loss_{name}",
                    f"line_sgd_side_steeper_{name}"):
            assert claims[cid]["kind"] == "finding"
    assert smoke["metrics"]["theorem2_bias_grows_with_c"]


@pytest.mark.slow
def test_table_has_every_seed_and_solution(smoke):
    p = smoke["parameters"]
    rows = smoke["metrics"]["runs"]
    assert len(rows) == 3 * len(p["seeds"]) * len(p["recipe_names"])
    for name in p["recipe_names"]:
        n = smoke["metrics"][f"seeds_swa_test_lower_{name}"]
        assert 0 <= n <= len(p["seeds"])
        assert f"sgd_after_swa_epoch_{name}" in smoke["metrics"]


@pytest.mark.slow
def test_line_endpoints_are_the_solutions(smoke):
    """t = 0 is SWA (its own BN statistics in eval mode, recomputed ones in recompute mode,
    the way training computed them); t = 1 is the SGD baseline for a net without BN."""
    first = smoke["parameters"]["seeds"][0]
    runs = {(r["recipe"], r["solution"]): r for r in smoke["metrics"]["runs"]
            if r["seed"] == first}
    for name in smoke["parameters"]["recipe_names"]:
        ends = smoke["metrics"][f"line_endpoints_{name}"]
        for mode, e in ends.items():
            assert e["t0_train_loss"] == pytest.approx(runs[name, "swa"]["train_loss"], rel=1e-4)
            assert e["t0_test_loss"] == pytest.approx(runs[name, "swa"]["test_loss"], rel=1e-4)
        if len(ends) == 1:        # no BN: one scan, and both ends are exact
            e = next(iter(ends.values()))
            sgd = runs[name, "sgd_baseline"]
            assert e["t1_train_loss"] == pytest.approx(sgd["train_loss"], rel=1e-4)
            assert e["t1_test_loss"] == pytest.approx(sgd["test_loss"], rel=1e-4)


def test_paper_profile_is_valid():
    p = chapters.for_profile("swa", "paper")
    assert p["line_points"] == 201 and p["after_epochs"] == 50 and p["sim_runs"] >= 10000
