"""The `swa` chapter at the smoke profile: it runs, records three-state findings with their
statistics, the after-SWA search and the line on the paper's protocol."""
import json

import pytest

from avalley import verdicts
from avalley.book import chapters


@pytest.fixture(scope="module")
def smoke(smoke_runs):
    """The smoke run of the book build (conftest.smoke_runs)."""
    return json.loads((smoke_runs("swa") / "results.json").read_text())


@pytest.mark.slow
def test_findings_carry_three_state_verdicts(smoke):
    claims = {c["id"]: c for c in smoke["claims"]}
    for cid in ("theorem2_bias_where_conditions_hold", "theorem2_symmetric_unbiased",
                "theorem2_simulation_matches_markov_chain", "line_ends_are_the_solutions"):
        assert claims[cid]["kind"] == "check" and claims[cid]["holds"], claims[cid]
    p = smoke["parameters"]
    for name in p["recipe_names"]:
        for cid in (f"swa_higher_train_loss_{name}", f"swa_lower_test_loss_{name}",
                    f"swa_higher_test_acc_{name}", f"after_swa_lower_train_loss_{name}",
                    f"after_swa_higher_test_loss_{name}", f"line_sgd_side_steeper_{name}"):
            c = claims[cid]
            assert c["kind"] == "finding" and c["verdict"] in verdicts.VERDICTS
            assert c["holds"] == (c["verdict"] == "holds") and c["rule"] == verdicts.RULE
            assert c["unit"] == "training seeds" and c["section"].startswith("swa-")
            if c["n_units"]:
                assert c["n_units"] == len(p["seeds"]) or cid.startswith("line_")
                assert len(c["ci"]) == 2 and len(c["values"]) == c["n_units"]
            else:
                assert c["verdict"] == "inconclusive" and c["reason"]
    assert "95.28" in claims[f"swa_higher_test_acc_{p['recipe_names'][0]}"]["paper"]


@pytest.mark.slow
def test_every_seed_has_four_solutions_and_a_search(smoke):
    p = smoke["parameters"]
    rows = smoke["metrics"]["runs"]
    assert len(rows) == 4 * len(p["seeds"]) * len(p["recipe_names"])
    assert {r["solution"] for r in rows} == {"sgd_baseline", "swa_last", "swa", "after_swa"}
    assert len(smoke["metrics"]["after_swa"]) == len(p["seeds"]) * len(p["recipe_names"])
    for r in smoke["metrics"]["after_swa"]:
        assert 1 <= r["epochs run"] <= p["after_epochs"]


@pytest.mark.slow
def test_the_line_ends_at_the_after_swa_iterate(smoke):
    """t = 0 is SWA and t = 1 the SGD-after-SWA iterate, as the table measured them."""
    first = smoke["parameters"]["seeds"][0]
    runs = {(r["recipe"], r["solution"]): r for r in smoke["metrics"]["runs"]
            if r["seed"] == first}
    assert smoke["parameters"]["line_to"] == "after_swa"
    for row in smoke["metrics"]["line"]:
        assert row["distance"] > 0 and "valley" in row and "difference" in row
    claims = {c["id"]: c for c in smoke["claims"]}
    assert claims["line_ends_are_the_solutions"]["value"] <= 1e-4
    assert smoke["metrics"]["contrast"]["end"] == "baseline"
    assert runs  # the table's rows exist for the first seed


def test_profiles_validate_and_the_paper_profile_is_the_papers():
    p = chapters.for_profile("swa", "paper")
    assert p["line_points"] == 201 and p["after_epochs"] == 50 and p["after_lr"] == 0.001
    assert p["line_to"] == "after_swa" and p["recipe_names"] == ["preresnet164-cifar10"]
    q = chapters.for_profile("swa", "quick")
    assert len(q["seeds"]) >= 5 and q["after_epochs"] == 50 and q["line_to"] == "after_swa"


def test_line_points_must_put_both_solutions_on_the_grid():
    from avalley.errors import ParameterError
    with pytest.raises(ParameterError, match="5k \\+ 1"):
        chapters.for_profile("swa", "quick", {"line_points": 20})
