"""The random-shift model and Theorem 1 (avalley.shift) against closed forms, brute force
and Monte Carlo."""
import itertools

import numpy as np
import pytest

from avalley.shift import (
    Ripple,
    Separable,
    best_bias,
    expected_loss_k,
    expected_loss_mc,
    expected_loss_quad,
    paired_gain_k,
    shift_gap,
    theorem1_bound,
    theorem1_conditions,
    window_constants,
)
from avalley.valleys import PiecewiseLinear, PiecewiseQuadratic, Smooth


@pytest.mark.parametrize("dist", ["uniform", "gaussian", "two-point"])
def test_quadrature_agrees_with_monte_carlo(dist):
    v = Smooth(c=5.0, sharpness=3.0)
    bs = np.array([-0.7, 0.0, 0.4, 1.3])
    q = expected_loss_quad(v, bs, dist, 0.8)
    m, se = expected_loss_mc(v, bs, dist, 0.8, n=400_000, seed=1)
    assert np.all(np.abs(q - m) < 4 * se + 1e-12)


@pytest.mark.parametrize("c,s", [(1.0, 1.0), (4.0, 0.5), (8.0, 2.0)])
def test_piecewise_linear_uniform_closed_form(c, s):
    v = PiecewiseLinear(c=c)
    bs = np.linspace(-s, s, 9)
    closed = ((bs + s) ** 2 + c * (s - bs) ** 2) / (4 * s)
    assert np.allclose(expected_loss_quad(v, bs, "uniform", s), closed, rtol=1e-10, atol=1e-12)
    assert best_bias(v, "uniform", s, n=4001) == pytest.approx(s * (c - 1) / (c + 1),
                                                                abs=4 * s / 4000)


def test_two_point_is_the_mean_of_both_shifts():
    v = PiecewiseQuadratic(c=3.0)
    assert expected_loss_quad(v, [0.2], "two-point", 1.0)[0] == pytest.approx(
        0.5 * (v.value(1.2) + v.value(-0.8)))


def test_k_dim_two_point_enumeration_matches_brute_force():
    valley = Separable((PiecewiseLinear(c=2.0), PiecewiseQuadratic(c=6.0, flat=-1),
                        Smooth(c=3.0)))
    err = Ripple(0.1, omega=2.0, phase=0.3)
    b = np.array([0.3, -0.2, 0.5])
    spread = np.array([1.0, 0.5, 2.0])
    brute = np.mean([valley.value(b + np.array(sg) * spread) + err.value(b + np.array(sg) * spread)
                     for sg in itertools.product((-1, 1), repeat=3)])
    m, se, how = expected_loss_k(valley, b, "two-point", spread, err)
    assert how == "exact" and se[0] == 0 and m[0] == pytest.approx(brute)


@pytest.mark.parametrize("dist", ["uniform", "gaussian"])
def test_k_dim_quadrature_agrees_with_monte_carlo(dist):
    valley = Separable((PiecewiseLinear(c=4.0), Smooth(c=2.0)))
    b = np.array([[0.0, 0.0], [0.4, -0.3]])
    q, _, how = expected_loss_k(valley, b, dist, [1.0, 0.5])
    assert how == "quadrature"
    m, se, how = expected_loss_k(valley, b, dist, [1.0, 0.5], error=Ripple(0.0), n=300_000)
    assert how == "monte carlo" and np.all(np.abs(q - m) < 4 * se)
    # one direction: the k-dim code gives the 1-D answer
    one, _, _ = expected_loss_k(Separable((PiecewiseLinear(c=4.0),)), [[0.4]], dist, 1.0)
    assert one[0] == pytest.approx(expected_loss_quad(PiecewiseLinear(c=4.0), 0.4, dist, 1.0)[0])


def test_paired_gain_matches_difference_of_expectations():
    valley = Separable((PiecewiseLinear(c=4.0),) * 2)
    m, _, _ = expected_loss_k(valley, [[0, 0], [0.5, 0.5]], "two-point", 1.0)
    assert paired_gain_k(valley, [0.5, 0.5], "two-point", 1.0)[0] == pytest.approx(m[0] - m[1])
    g, se = paired_gain_k(valley, [0.5, 0.5], "gaussian", 1.0, n=200_000)
    q, _, _ = expected_loss_k(valley, [[0, 0], [0.5, 0.5]], "gaussian", 1.0)
    assert abs(g - (q[0] - q[1])) < 4 * se


def test_ripple_is_bounded_by_xi():
    x = np.random.default_rng(0).normal(size=(1000, 3)) * 10
    assert np.abs(Ripple(0.07, omega=3.0, phase=1.0).value(x)).max() <= 0.07


def test_theorem1_bound_hand_example():
    # (3-1)*0.5*1/2 + (5-1)*1*2/2 - 2*2*0.1 = 0.5 + 4 - 0.4
    assert theorem1_bound([0.5, 1.0], [1.0, 2.0], [3.0, 5.0], 0.1) == pytest.approx(4.1)
    assert theorem1_bound(0.2, 1.0, 4.0, 0.0) == pytest.approx(0.3)


def test_theorem1_conditions_hand_example():
    # lower limit 4*0.1/((3-1)*1) = 0.2; upper limit min(1.0 - 0, 4 - 1.0) = 1.0
    ok = dict(p=1.0, c=3.0, xi=0.1, r_in=0.0, r_out=4.0, delta_bar=1.0)
    assert theorem1_conditions(0.5, **ok)["holds"]
    assert not theorem1_conditions(0.2, **ok)["lower"]            # strict inequality
    assert not theorem1_conditions(1.2, **ok)["upper"]
    assert theorem1_conditions(1.2, **ok)["upper_slides"]          # max form: max(3, 1) = 3
    assert not theorem1_conditions(0.5, **{**ok, "c": 1.0})["holds"]


def test_bound_is_tight_for_piecewise_linear_two_point_shift():
    # the pairing argument is exact here: gain = (c-1) l p / 2 when l <= delta_bar
    for c, l, db in [(2.0, 0.3, 1.0), (8.0, 1.0, 1.0), (4.0, 0.1, 2.0)]:
        v = PiecewiseLinear(c=c)
        e0, el = expected_loss_quad(v, [0.0, l], "two-point", db)
        assert e0 - el == pytest.approx(theorem1_bound(l, 1.0, c, 0.0))


def test_window_constants():
    p, c = window_constants(PiecewiseLinear(c=4.0, a=2.0), 0.0, 3.0)
    assert (p, c) == pytest.approx((2.0, 4.0))
    p, c = window_constants(PiecewiseQuadratic(c=8.0, k=1.0), 0.5, 2.0)
    assert p == pytest.approx(2.0, abs=0.01) and c == pytest.approx(8 * 0.5 / 2.0, abs=0.02)
    p, c = window_constants(PiecewiseLinear(c=3.0, flat=-1), 0.0, 1.0)
    assert (p, c) == pytest.approx((1.0, 3.0))


def test_shift_gap_finds_the_shift():
    ls = np.linspace(-5, 5, 101)
    train = PiecewiseLinear(c=4.0).value(ls) + 0.1
    test = PiecewiseLinear(c=4.0).value(ls + 1.0) + 0.1       # L(l) = L̂(l + 1)
    deltas = np.linspace(-2, 2, 41)
    xi, ratio = shift_gap(ls, train, test, deltas)
    assert ratio[20] == pytest.approx(1.0)                      # δ = 0
    assert deltas[np.argmin(xi)] == pytest.approx(1.0) and xi.min() < 1e-12
    xi2, ratio2 = shift_gap(ls, np.stack([train, train]), np.stack([test, test]), deltas)
    assert xi2.shape == (2, 41) and np.allclose(ratio2[1], ratio)


@pytest.mark.parametrize("c,b,s", [(1.0, 0.3, 1.0), (4.0, -0.5, 0.7), (8.0, 1.2, 2.0)])
def test_piecewise_linear_gaussian_closed_form(c, b, s):
    # x = b + δ ~ N(b, s²): E[x⁺] = s·φ(m) + b·Φ(m), E[x⁻] = s·φ(m) − b·Φ(−m), m = b/s
    from scipy.stats import norm
    m = b / s
    pos = s * norm.pdf(m) + b * norm.cdf(m)
    neg = s * norm.pdf(m) - b * norm.cdf(-m)
    got = expected_loss_quad(PiecewiseLinear(c=c), b, "gaussian", s)[0]
    assert got == pytest.approx(pos + c * neg, rel=1e-10)
