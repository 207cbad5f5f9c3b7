"""The shared verdict rule (avalley.verdicts) on constructed data."""
import math

import numpy as np
import pytest

from avalley import verdicts as V


def test_clear_effect_in_the_papers_direction_holds():
    v = V.decide([-0.31, -0.29, -0.33, -0.30, -0.28], "below", "SWA minus SGD test loss")
    assert v.verdict == "holds" and v.holds and v.ci[1] < 0 and v.sign_count == 5
    assert v.n_units == 5 and v.unit == "training seeds" and v.rule == V.RULE
    assert "5 of 5 below 0" in v.describe()


def test_clear_opposite_effect_fails():
    v = V.decide([0.31, 0.29, 0.33, 0.30, 0.28], "below", "x")
    assert v.verdict == "fails" and not v.holds and v.ci[0] > 0 and v.sign_count == 0


def test_noise_is_inconclusive():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, 6)
    x -= x.mean()                                   # a mean of exactly zero
    v = V.decide(x, "above", "x")
    assert v.verdict == "inconclusive" and v.ci[0] < 0 < v.ci[1] and v.reason == ""


def test_one_unit_is_never_enough():
    v = V.decide([5.0], "above", "x", unit="networks")
    assert v.verdict == "inconclusive" and "fewer than two" in v.reason
    assert math.isinf(v.ci[0]) and "one network" in v.describe()


def test_the_interval_is_student_t():
    x = np.array([1.0, 2.0, 4.0])
    m, lo, hi = V.t_interval(x)
    half = 4.302652729911275 * x.std(ddof=1) / math.sqrt(3)    # t_{0.975, 2}
    assert m == pytest.approx(7 / 3) and hi - m == pytest.approx(half) and m - lo == \
        pytest.approx(half)


def test_null_and_direction():
    assert V.decide([2.5, 2.6, 2.7], "above", "ratio", null=2.0).verdict == "holds"
    assert V.decide([2.5, 2.6, 2.7], "below", "ratio", null=2.0).verdict == "fails"


def test_paired_differences_and_shape_check():
    v = V.paired([1.0, 2.0, 3.0], [0.5, 1.4, 2.6], "above", "a minus b")
    assert v.values == pytest.approx((0.5, 0.6, 0.4)) and v.holds
    with pytest.raises(ValueError, match="shapes"):
        V.paired([1.0, 2.0], [1.0], "above", "x")


def test_non_finite_values_are_refused_and_unmeasurable_says_why():
    with pytest.raises(ValueError, match="finite"):
        V.decide([1.0, float("inf")], "above", "x")
    v = V.unmeasurable("rise ratio", "training seeds", "no valley on the line")
    assert v.verdict == "inconclusive" and v.n_units == 0
    assert v.describe() == "not measured (no valley on the line)"
    with pytest.raises(ValueError, match="expect"):
        V.decide([1.0, 2.0], "up", "x")


def test_units_needed_gives_the_power_it_promises():
    """Simulate the rule with the returned number of units: it holds in about `power` of
    the trials, and one unit fewer gives less."""
    sd, effect = 1.0, 0.8
    n = V.units_needed(sd, effect)
    rng = np.random.default_rng(1)

    def share(k):
        return np.mean([V.decide(rng.normal(effect, sd, k), "above", "x").holds
                        for _ in range(3000)])
    assert share(n) >= 0.77 and share(n - 1) < share(n)
    assert V.units_needed(sd, 2 * effect) < n and V.units_needed(sd, 0.0) > 1000
    assert V.units_needed(0.0, 0.1) == 2
