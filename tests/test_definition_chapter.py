"""The `definition` chapter: parameters at every profile, a refusal, and its smoke run."""
import json

import pytest

from avalley.book import chapters
from avalley.errors import ParameterError


def test_profiles_validate():
    for profile in ("smoke", "quick", "paper"):
        values = chapters.for_profile("definition", profile)
        assert values["profile"] == profile and values["r_inner"] < values["r_outer"]
    quick = chapters.for_profile("definition", "quick")
    # the public script's settings, so that the slide's seed can be checked
    assert (quick["toy_steps"], quick["toy_lr"], quick["toy_reach"], quick["toy_n_side"],
            quick["slide_seed"]) == (30, 0.01, 7.5, 15, 2)


def test_refusals():
    with pytest.raises(ParameterError, match="r_inner < r_outer"):
        chapters.for_profile("definition", "quick", {"r_inner": 5.0, "r_outer": 3.0})
    with pytest.raises(ParameterError, match="slide_seed"):
        chapters.for_profile("definition", "quick", {"toy_seeds": 2})
    with pytest.raises(ParameterError, match="level_fractions"):
        chapters.for_profile("definition", "quick", {"level_fractions": [0.5, 1.0]})
    with pytest.raises(ParameterError, match="Unknown parameter"):
        chapters.for_profile("definition", "quick", {"ratio_threshold": 1.2})


@pytest.mark.slow
def test_definition_smoke_run(smoke_runs):
    res = json.loads((smoke_runs("definition") / "results.json").read_text())
    claims = {c["id"]: c for c in res["claims"]}
    for cid in ("checker_matches_analytic_truth", "guards_give_the_expected_status",
                "toy_slide_seed_reproduces_slide"):
        assert claims[cid]["kind"] == "check" and claims[cid]["holds"], claims[cid]
    for variant in ("script", "converged"):
        for how in ("definition1", "level"):
            c = claims[f"toy_asymmetric_{how}_{variant}"]
            assert c["kind"] == "finding" and c["unit"] == "seeds"
            assert c["verdict"] in ("holds", "fails", "inconclusive") and c["null"] == 0.5
    assert not any(c.get("rule", "").startswith("boolean") for c in res["claims"])
    m = res["metrics"]
    counts = m["toy_script_status_counts"]
    assert sum(counts.values()) == res["parameters"]["toy_seeds"] == 5
    assert m["slide_seed_status"] == "not a valley"       # the script's centre is not a minimum
    assert len(m["analytic_examples"]) == 10
