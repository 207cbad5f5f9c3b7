"""avalley.asymmetry against analytic valleys (avalley.valleys), and the toy neuron."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from avalley import asymmetry as A
from avalley import neuron
from avalley.valleys import (
    PiecewiseLinear,
    PiecewiseQuadratic,
    Quadratic,
    Smooth,
    definition1_truth,
    largest_c_truth,
)

GRID = A.symmetric_grid(4.0, 200)


# --- property tests: piecewise-linear valleys, any grid containing 0 --------------------------

@st.composite
def pl_case(draw):
    a = draw(st.floats(0.1, 5.0))
    ratio = draw(st.floats(1.0, 20.0))
    flat = draw(st.sampled_from([1, -1]))
    r0 = draw(st.floats(0.0, 2.0))
    r1 = r0 + draw(st.floats(0.05, 3.0))
    # an irregular grid: random positive and negative points, 0, and points past r1
    pos = draw(st.lists(st.floats(0.001, 6.0), min_size=0, max_size=30))
    neg = draw(st.lists(st.floats(0.001, 6.0), min_size=0, max_size=30))
    ls = np.unique(np.r_[-np.array(neg), 0.0, pos, r1 + 0.5, -(r1 + 0.5)])
    return PiecewiseLinear(c=ratio, a=a, flat=flat), (r0, r1), ls


@settings(max_examples=200, deadline=None)
@given(pl_case(), st.floats(-0.5, 0.5), st.floats(1.001, 30.0))
def test_piecewise_linear_verdict_matches_truth(case, log_p, c):
    v, (r0, r1), ls = case
    p = v.a * np.exp(log_p)
    # stay clear of the exact ties p = a and c·p = c_v·a, where rounding decides
    if abs(p / v.a - 1) < 1e-6 or abs(c * p / (v.c * v.a) - 1) < 1e-6:
        return
    truth = definition1_truth(v, r0, r1, p, c)
    y = v.value(ls)
    assert A.is_asymmetric(ls, y, r0, r1, p, c, flat=v.flat) == truth
    assert A.asymmetric_side(ls, y, r0, r1, p, c) == (v.flat if truth else 0)
    assert not A.is_asymmetric(ls, y, r0, r1, p, c, flat=-v.flat)


@settings(max_examples=200, deadline=None)
@given(pl_case())
def test_piecewise_linear_largest_c_is_the_slope_ratio_at_any_grid(case):
    v, (r0, r1), ls = case
    c_true, p_true = largest_c_truth(v, r0, r1)
    c, p, side = A.largest_c_side(ls, v.value(ls), r0, r1)
    assert c == pytest.approx(c_true, rel=1e-9) and p == pytest.approx(p_true, rel=1e-9)
    assert side == (v.flat if v.c > 1 + 1e-9 else side)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.2, 5.0), st.floats(1.0, 10.0), st.floats(0.3, 1.5), st.floats(0.5, 2.0),
       st.integers(20, 2000))
def test_piecewise_quadratic_largest_c_within_one_grid_step(k, ratio, r0, width, n_side):
    """Stated tolerance: on a uniform grid of step h, each extreme slope is off by at most
    one step of the derivative, so c*/c_true lies in [(r̄-h)/(r̄) · r/(r+h), (r̄+h)/r̄ · r/(r-h)]."""
    v, r1 = PiecewiseQuadratic(c=ratio, k=k), r0 + width
    ls = A.symmetric_grid(r1 + 1.0, n_side)
    h = ls[1] - ls[0]
    c_true, _ = largest_c_truth(v, r0, r1)
    c, _ = A.largest_c(ls, v.value(ls), r0, r1, flat=1)
    lo, hi = (r0 - h) / r0 * r1 / (r1 + h), (r0 + h) / r0 * r1 / (r1 - h)
    assert lo * (1 - 1e-9) <= c / c_true <= hi * (1 + 1e-9)


def test_smooth_valley_converges_with_density():
    v = Smooth(c=5.0, sharpness=2.0, flat=-1)
    c_true, _ = largest_c_truth(v, 1.0, 3.0)
    errs = [abs(A.largest_c(g := A.symmetric_grid(4.0, n), v.value(g), 1.0, 3.0)[0] / c_true - 1)
            for n in (40, 400, 4000)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 2e-3


def test_symmetric_quadratic_is_asymmetric_for_no_c():
    v = Quadratic(k=2.0)
    for r0, r1 in ((0.0, 1.0), (1.0, 3.0), (2.0, 2.5)):
        c, _ = A.largest_c(GRID, v.value(GRID), r0, r1)
        assert c < 1
        assert not A.is_asymmetric(GRID, v.value(GRID), r0, r1, p=100.0, c=1.001)


# --- rises, ratio, flat side, slopes ----------------------------------------------------------

def test_rises_ratio_and_flat_side_piecewise_linear():
    v = PiecewiseLinear(c=4.0, a=0.5, flat=-1)
    dm, dp = A.rises(GRID, v.value(GRID), 2.0)
    assert dm == pytest.approx(1.0) and dp == pytest.approx(4.0)
    assert A.rise_ratio(GRID, v.value(GRID), 2.0) == pytest.approx(4.0)
    assert A.flat_side(GRID, v.value(GRID), 2.0) == -1
    # a window between grid points is interpolated linearly
    assert A.rises(GRID, v.value(GRID), 1.234)[1] == pytest.approx(4 * 0.5 * 1.234)


def test_ratio_edge_cases():
    ls = np.array([-1.0, 0.0, 1.0])
    assert A.rise_ratio(ls, [1.0, 0.0, 1.0], 1.0) == 1.0
    assert A.rise_ratio(ls, [-1.0, 0.0, 1.0], 1.0) == np.inf     # the centre is no minimum
    assert np.isnan(A.rise_ratio(ls, [-1.0, 0.0, -2.0], 1.0))    # a maximum
    assert A.flat_side(ls, [1.0, 0.0, 1.0], 1.0) == 0


def test_linspace_grids_that_miss_zero_by_rounding_are_accepted():
    ls = np.linspace(-7.73518332981148, 7.73518332981148, 31)
    assert ls[15] != 0.0                                  # -8.9e-16
    v = PiecewiseLinear(c=3.0)
    assert A.largest_c(ls, v.value(ls), 1.0, 7.0) == pytest.approx((3.0, 1.0))


def test_slopes_are_segment_slopes():
    mid, s = A.slopes([-1.0, 0.0, 2.0], [3.0, 1.0, 2.0])
    np.testing.assert_allclose(mid, [-0.5, 1.0])
    np.testing.assert_allclose(s, [-2.0, 0.5])


def test_vectorized_equals_per_curve():
    rng = np.random.default_rng(0)
    ls = A.symmetric_grid(3.0, 30)
    Y = np.stack([rng.uniform(0.5, 5) * Smooth(c=rng.uniform(1, 8), flat=rng.choice([-1, 1]))
                  .value(ls) + rng.normal(0, 0.01, ls.size) for _ in range(25)])
    m = A.measure(ls, Y, 2.5, 0.5, 2.5)
    for i, y in enumerate(Y):
        one = A.measure(ls, y, 2.5, 0.5, 2.5)
        for k in m:
            np.testing.assert_allclose(m[k][i], one[k])
        assert A.asymmetric_side(ls, Y, 0.5, 2.5, 0.5, 1.5)[i] == \
            A.asymmetric_side(ls, y, 0.5, 2.5, 0.5, 1.5)


def test_reversing_the_direction_flips_the_side():
    v = PiecewiseLinear(c=3.0, a=1.0)
    y = v.value(GRID)
    assert A.asymmetric_side(GRID, y, 0.5, 2.0, 1.5, 1.5) == 1
    assert A.asymmetric_side(GRID, y[::-1], 0.5, 2.0, 1.5, 1.5) == -1
    assert A.largest_c_side(GRID, y[::-1], 0.5, 2.0)[2] == -1


def test_largest_c_when_the_flat_side_does_not_rise():
    ls = A.symmetric_grid(2.0, 4)
    y = np.where(ls < 0, -3 * ls, -0.1 * ls)           # flat side slopes down
    c, p = A.largest_c(ls, y, 0.5, 2.0, flat=1)
    assert c == np.inf and p == 0.0


# --- bad curves are refused with readable messages ---------------------------------------------

@pytest.mark.parametrize("ls, y, match", [
    ([-1.0, 1.0, 0.0], [1, 1, 0], "sorted increasing"),
    ([-1.0, 0.0, 0.0, 1.0], [1, 0, 0, 1], "repeated value 0"),
    ([0.0, 1.0], [0, 1], "at least 3 points"),
    ([-1.0, 0.0, 1.0], [1, np.nan, 1], "NaN or infinite"),
    ([-1.0, 0.0, 1.0], [1, 0, np.inf], "NaN or infinite"),
    ([-1.0, 0.5, 1.0], [1, 0, 1], "must contain l = 0"),
    ([0.0, 1.0, 2.0], [0, 1, 2], "both sides of 0"),
    ([-1.0, 0.0, 1.0], [1, 0], "ls has 3"),
    ([[-1.0, 0.0, 1.0]], [1, 0, 1], "ls must be 1-D"),
])
def test_bad_curves(ls, y, match):
    with pytest.raises(ValueError, match=match):
        A.rises(ls, y, 0.5)


def test_windows_outside_the_range_and_bad_constants():
    ls, y = GRID, Quadratic().value(GRID)
    with pytest.raises(ValueError, match="outside the sampled range"):
        A.rises(ls, y, 4.5)
    with pytest.raises(ValueError, match="outside the sampled range"):
        A.largest_c(ls, y, 1.0, 5.0)
    with pytest.raises(ValueError, match="0 <= r_inner < r_outer"):
        A.largest_c(ls, y, 2.0, 1.0)
    with pytest.raises(ValueError, match="p > 0"):
        A.is_asymmetric(ls, y, 1.0, 2.0, p=0.0, c=2.0)
    with pytest.raises(ValueError, match="c > 1"):
        A.is_asymmetric(ls, y, 1.0, 2.0, p=1.0, c=1.0)
    with pytest.raises(ValueError, match="flat must be"):
        A.is_asymmetric(ls, y, 1.0, 2.0, p=1.0, c=2.0, flat=0)


# --- the toy neuron ---------------------------------------------------------------------------

def test_neuron_gradient_matches_autograd():
    r = neuron.make_run(0)
    t = torch.tensor([-0.7, 0.3], dtype=torch.float64, requires_grad=True)
    neuron.loss(t, r.x, r.y).backward()
    torch.testing.assert_close(neuron.grad(t.detach(), r.x, r.y), t.grad)


def test_neuron_run_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = neuron.make_run(2), neuron.make_run(2)
    assert torch.equal(torch.rand(1), before)
    assert torch.equal(a.average, b.average) and torch.equal(a.direction, b.direction)
    assert (a.direction > 0).all() and float(a.direction.norm()) == pytest.approx(1.0)


def test_neuron_minimizer_and_line():
    r = neuron.make_run(0)
    assert not neuron.separable(r)
    theta, gnorm = neuron.minimize(r)
    assert gnorm < 1e-9
    ls = A.symmetric_grid(7.5, 15)
    y = neuron.line_losses(r, theta, ls)
    assert y[15] == pytest.approx(float(neuron.loss(theta, r.x, r.y)))
    assert y.min() == y[15]                                   # convex loss: 0 is the minimum
    assert neuron.separable(neuron.make_run(1))               # seed 1 draws separable data


# --- summary statistics over many curves ---------------------------------------------------

def test_summary_against_hand_counts():
    ls = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    # rises (−, +) at ±1: (4, 1) ratio 4; (1, 1) ratio 1; (1, 3) ratio 3; (2, −1) ratio inf;
    # (−1, −2) both ≤ 0: NaN
    curves = np.array([[4.0, 1.0, 0.0, 0.5, 1.0],
                       [1.0, 0.5, 0.0, 0.5, 1.0],
                       [1.0, 0.5, 0.0, 1.0, 3.0],
                       [2.0, 1.0, 0.0, -0.5, -1.0],
                       [-1.0, -0.5, 0.0, -1.0, -2.0]])
    s = A.summary(ls, curves, 1.0, ratio_threshold=2.0, r_inner=0.5, r_outer=1.0, p=1.5, c=2.0)
    assert s["n"] == 5
    # ratios without the NaN, sorted: 1, 3, 4, inf; inverted-CDF median = the 2nd = 3
    assert s["median"] == 3.0 and s["q25"] == 1.0 and s["q75"] == 4.0
    assert s["frac_ratio"] == 3 / 5                    # 4, 3 and inf
    assert s["frac_valley"] == 3 / 5 and s["frac_undefined"] == 1 / 5
    assert s["frac_flat_plus"] == 3 / 5                 # curves 0, 3, 4 (rise + smaller)
    # outer-half slopes (flat, sharp): curve 0: flat +u slope 1, sharp slope 6 -> holds with
    # p = 1.5, c = 2 (1 < 1.5, 6 > 3); curve 2: flat -u slope 1, sharp slope 4 -> holds
    # (1 < 1.5, 4 > 3); curve 3: flat +u slope -1, sharp slope 2 -> 2 > 3 fails
    assert s["frac_definition1"] == 2 / 5
    # largest c: 6, 1, 4, inf, NaN (neither side rises) -> > 2 for three curves
    assert s["frac_some_p"] == 3 / 5 and s["median_largest_c"] == 4.0


def test_summary_matches_per_curve_functions():
    rng = np.random.default_rng(0)
    ls = A.symmetric_grid(2.0, 4)
    curves = np.abs(ls)[None] * rng.uniform(0.2, 3.0, (50, 1)) \
        + np.where(ls > 0, 1, 0)[None] * ls[None] * rng.uniform(0, 2, (50, 1))
    s = A.summary(ls, curves, 2.0, 1.5, 1.0, 2.0, p=1.0, c=1.5)
    ratios = A.rise_ratio(ls, curves, 2.0)
    assert s["median"] == A.quantile(ratios, 0.5)
    assert s["frac_ratio"] == np.mean(ratios >= 1.5)
    assert s["frac_definition1"] == np.mean(A.is_asymmetric(ls, curves, 1.0, 2.0, 1.0, 1.5))


def test_quantile_keeps_infinity_and_drops_nan():
    assert A.quantile([1.0, np.inf, np.inf, np.nan], 0.5) == np.inf
    assert A.quantile([2.0, np.nan], 0.5) == 2.0
    assert np.isnan(A.quantile([np.nan], 0.5))
