"""The `origins` chapter: its profiles validate, its rules refuse what they should, and at
the smoke profile it runs, records every check and finding, and its checks hold."""
import json

import pytest

from avalley.book import chapters
from avalley.errors import ParameterError

GROUPS = ("all", "bn-weight", "bn-bias", "conv", "classifier")


def test_every_profile_validates():
    for profile in chapters.PROFILES:
        p = chapters.for_profile("origins", profile)
        assert p["profile"] == profile and 1.0 in p["sweep_rhos"]
    paper = chapters.for_profile("origins", "paper")
    assert paper["recipe_name"] == "preresnet164-cifar10"
    assert paper["bninit_normal_recipe"] == "preresnet164-cifar10-bninit-normal"
    assert chapters.datasets_needed("origins", paper) == {"cifar10"}
    quick = chapters.for_profile("origins", "quick")
    assert set(quick["groups"]) == set(GROUPS)
    assert set(quick["noises"]) == {"gaussian", "uniform-centred", "laplace"}


def test_scale_shrinks_the_budgets_only():
    p = chapters.for_profile("origins", "quick", {"scale": 0.25})
    q = chapters.for_profile("origins", "quick")
    assert p["n_eval"] < q["n_eval"] and p["n_hessian"] < q["n_hessian"]
    assert p["n_hessian"] <= p["n_eval"] and p["lanczos_steps"] >= p["top_k"]
    assert p["groups"] == q["groups"][:2] and p["sweep_rhos"][-1] == 1.0
    assert p["seeds"] == q["seeds"][:2] and p["bninit_seeds"] == q["bninit_seeds"][:2]


@pytest.mark.parametrize("values, words", [
    ({"bninit_normal_recipe": "convnet-bn-fmnist-bninit-uniform"}, "initialized 'normal'"),
    ({"bninit_uniform_recipe": "convnet-bn-digits-bninit-uniform"}, "nothing else changed"),
    ({"sweep_noise": "laplace", "noises": ["gaussian"]}, "sweep_noise"),
    ({"sweep_rhos": [0.75]}, "1.0"),
    ({"groups": ["conv"]}, "'all'"),
    ({"top_k": 9}, "Lanczos"),
    ({"n_hessian": 512}, "subset"),
])
def test_rules_refuse_contradictions(values, words):
    with pytest.raises(ParameterError, match=words):
        chapters.for_profile("origins", "quick", values)


def test_domains_refuse_bad_values():
    for values in ({"seeds": [0]}, {"sweep_rhos": [0.5, 1.0]}, {"normalize": "filter"},
                   {"groups": ["heads"]}, {"noises": ["uniform"]}, {"refine": -1}):
        with pytest.raises(ParameterError):
            chapters.for_profile("origins", "quick", values)


@pytest.fixture(scope="module")
def smoke(smoke_runs):
    """The smoke run of the book build (conftest.smoke_runs)."""
    return json.loads((smoke_runs("origins") / "results.json").read_text())


@pytest.mark.slow
def test_smoke_records_every_claim(smoke):
    claims = {c["id"]: c for c in smoke["claims"]}
    for cid in ("search_matches_dense_grid", "classifier_shortcut_matches_engine",
                "matched_agreement_exact", "bninit_variants_start_as_declared",
                "top_eigenvalues_resolved"):
        assert claims[cid]["kind"] == "check" and claims[cid]["holds"], cid
    expected = [f"sign_{k}_{g}" for g in GROUPS for k in
                ("replaced_asymmetric", "plain_symmetric", "sweep_flattens_plus_side")]
    expected += ["bn_scales_mostly_positive", "swa_flatter_top_eigenvalue",
                 "swa_flatter_trace", "swa_on_gentle_side_of_line", "swa_above_valley_floor",
                 "after_swa_sharper_trace", "after_swa_sharper_top_eigenvalue"]
    expected += [f"bninit_{k}_{d}" for d in ("uniform", "matched") for k in
                 ("normal_less_asymmetric", "normal_symmetric", "uniform_asymmetric")]
    for cid in expected:
        c = claims[cid]
        assert c["kind"] == "finding" and c["verdict"] in ("holds", "fails", "inconclusive")
        assert c["section"].startswith("origins-") and c["paper"]
        assert c["statement"].startswith(("Li et al. report", "The paper implies",
                                          "Izmailov et al. report"))


@pytest.mark.slow
def test_smoke_probes_and_sharpness(smoke):
    p, m = smoke["parameters"], smoke["metrics"]
    probes = m["probes"]
    assert {r["group"] for r in probes} == set(p["groups"])
    assert {r["seed"] for r in probes if r["init"] == "ones"} == set(p["seeds"])
    for r in probes:
        if r["family"] == "matched":
            assert abs(r["agreement"] - r["rho"]) < 0.05
        assert r["n_evals"] >= 2
    rows = m["sharpness"]
    assert len(rows) == 3 * len(p["seeds"])
    for r in rows:
        assert r["top eigenvalue"] > 0 and r["trace s.e."] >= 0
    assert m["attribution"]["label"] in ("position", "position, in part", "sharpness", "both",
                                         "neither")
    assert set(m["seconds"]) >= {"sign agreement probes", "sharpness", "total"}
