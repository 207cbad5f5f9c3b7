"""The random-shift model and Theorem 1 (avalley.shift) against closed forms, brute force
and Monte Carlo."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avalley.shift import (
    DELTA_STEP_FRACTION,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    SHIFT_GAP_MAX,
    Ripple,
    Separable,
    best_bias,
    delta_grid,
    expected_loss_k,
    expected_loss_mc,
    expected_loss_quad,
    paired_gain_k,
    shift_check,
    shift_gap,
    shift_verdict,
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


# --- the random-shift check as the slides draw it -------------------------------------------

LS = np.linspace(-5, 5, 201)


def test_delta_grid_is_fine_enough_and_centred():
    d = delta_grid(2.0)
    assert d.size == 41 and d[20] == 0.0 and d[0] == -2.0 and d[-1] == 2.0
    assert np.diff(d).max() <= DELTA_STEP_FRACTION * 2.0 + 1e-12
    assert np.diff(delta_grid(1.0, 0.03)).max() <= 0.03 + 1e-12
    with pytest.raises(ValueError, match="delta_max"):
        delta_grid(0.0)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.3, 1.5), st.sampled_from([1, -1]), st.floats(-0.5, 0.5),
       st.floats(1.5, 10.0), st.sampled_from([1, -1]))
def test_shift_check_finds_a_known_shift(size, sign, offset, c, flat):
    """test(l) = train(l + δ0) + offset: the check holds, with δ* within one grid step of
    δ0, the removed offset close to `offset`, and a normalized gap near 0."""
    d0 = sign * size
    v = Smooth(c=c, sharpness=3.0, flat=flat)
    train, test = v.value(LS) + 0.05, v.value(LS + d0) + 0.05 + offset
    deltas = delta_grid(2.0)
    res = shift_check(LS, train, test, deltas)
    step = deltas[1] - deltas[0]
    assert res.status == HOLDS, res.reason
    assert abs(res.delta_star - d0) <= step + 1e-12
    assert res.gap_min < SHIFT_GAP_MAX and res.step == pytest.approx(step)
    assert res.gap.shape == res.gap_raw.shape == deltas.shape
    assert res.gap[20] == 1.0 and res.gap_raw[20] == 1.0


@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 2.0), st.sampled_from([1, -1]), st.floats(1.0, 10.0),
       st.floats(0.1, 3.0), st.sampled_from([1, -1]))
def test_a_vertical_offset_alone_never_passes(b, sign, c, a, flat):
    v = PiecewiseLinear(c=c, a=a, flat=flat)
    train = v.value(LS) + 0.1
    res = shift_check(LS, train, train + sign * b, delta_grid(2.0))
    assert res.status == FAILS and res.delta_star == 0.0
    assert res.offset == pytest.approx(sign * b)


def test_the_gap_with_the_offset_kept_cannot_decide():
    """A pure offset b along slopes a and c·a: shifting by δ = −b/(c·a) cancels it on the
    sharp side, and the offset-kept gap has an interior minimum of about (1 + 1/c)/2 < 1,
    the old criterion's pass. With the offset removed the pair fails."""
    v, b = PiecewiseLinear(c=4.0, a=0.2), 0.5
    train = v.value(LS)
    deltas = delta_grid(2.5)                                # step 0.125: holds −0.625
    _, raw = shift_gap(LS, train, train + b, deltas)
    i = int(np.argmin(raw))
    assert deltas[i] == pytest.approx(-0.625) and raw[i] < 0.7
    assert 0 < i < len(deltas) - 1                          # interior, below 1
    _, off = shift_gap(LS, train, train + b, deltas, remove_offset=True)
    assert off[20] == 1.0 and np.all(off[np.arange(41) != 20] > 1)
    res = shift_check(LS, train, train + b, deltas)
    assert res.status == FAILS
    assert res.delta_star_raw == pytest.approx(-0.625) and res.gap_min_raw == raw[i]


def test_offset_removed_gap_is_never_larger():
    rng = np.random.default_rng(3)
    train = Smooth(c=3.0).value(LS) + rng.normal(0, 0.01, LS.size)
    test = Smooth(c=3.0).value(LS - 0.3) * 1.2 + 0.2 + rng.normal(0, 0.01, LS.size)
    xi, _ = shift_gap(LS, train, test, delta_grid(2.0))
    xi_off, _ = shift_gap(LS, train, test, delta_grid(2.0), remove_offset=True)
    assert np.all(xi_off <= xi + 1e-12)


def test_shift_verdict_rules():
    d = delta_grid(1.0)                                      # step 0.05, δ = 0 at index 20

    def v_shape(at, depth):                                  # a V down to `depth` at δ = at
        return 1 - (1 - depth) * np.maximum(0, 1 - np.abs(d - at) / 0.5)
    res = shift_verdict(d, v_shape(0.4, 0.15))
    assert res.status == HOLDS and res.delta_star == pytest.approx(0.4)
    assert res.gap_min == pytest.approx(0.15)
    assert shift_verdict(d, v_shape(0.0, 0.15)).status == FAILS
    assert shift_verdict(d, np.ones_like(d)).status == FAILS           # ties go to δ = 0
    one_step = shift_verdict(d, v_shape(0.05, 0.15))
    assert one_step.status == INCONCLUSIVE and "one grid step" in one_step.reason
    edge = shift_verdict(d, v_shape(1.0, 0.15))
    assert edge.status == INCONCLUSIVE and "end of the δ grid" in edge.reason
    shallow = shift_verdict(d, v_shape(0.4, 0.8))
    assert shallow.status == INCONCLUSIVE and "only to 0.8" in shallow.reason
    assert shift_verdict(d, v_shape(0.4, 0.8), gap_max=0.9).status == HOLDS


def test_the_slides_curve_holds_on_its_own_grid():
    """The slides: 1.0, 0.77, 0.52, 0.25, 0.15, 0.37, 0.67, 1.0, 1.33 at δ = 0, 0.1, ..., 0.8.
    Their grid has 8 steps, so it needs step_fraction 1/8 to be accepted."""
    d = np.arange(9) * 0.1
    g = np.array([1.0, 0.77, 0.52, 0.25, 0.15, 0.37, 0.67, 1.0, 1.33])
    res = shift_verdict(d, g, step_fraction=0.125)
    assert res.status == HOLDS and res.delta_star == pytest.approx(0.4) and res.gap_min == 0.15
    with pytest.raises(ValueError, match="too coarse"):
        shift_verdict(d, g)


def test_coarse_or_malformed_delta_grids_are_refused():
    train = Smooth(c=3.0).value(LS)
    with pytest.raises(ValueError, match="too coarse"):
        shift_check(LS, train, train, np.arange(-2.0, 2.5, 1.0))      # the review's step 1.0
    with pytest.raises(ValueError, match="contain δ = 0"):
        shift_verdict(np.linspace(-1, 1, 40), np.ones(40))
    with pytest.raises(ValueError, match="strictly increasing"):
        shift_verdict(delta_grid(1.0)[::-1], np.ones(41))
    with pytest.raises(ValueError, match="one value per shift"):
        shift_verdict(delta_grid(1.0), np.ones(40))
    with pytest.raises(ValueError, match="one pair"):
        shift_check(LS, np.stack([train, train]), np.stack([train, train]))
    with pytest.raises(ValueError, match="fewer than 2"):
        shift_gap(LS, train, train, [0.0, 20.0])
    with pytest.raises(ValueError, match="same|shape"):
        shift_gap(LS, train, train[:-1], [0.0])


def test_shift_check_default_grid_is_half_the_reach():
    v = Smooth(c=5.0, sharpness=3.0)
    res = shift_check(LS, v.value(LS), v.value(LS + 0.8) + 0.2)
    assert res.deltas[-1] == pytest.approx(2.5) and res.deltas.size == 41
    assert res.status == HOLDS and abs(res.delta_star - 0.8) <= res.step


# --- per network: shift_by_unit, resolved_gap, cases_by_unit ----------------------------------

def test_orient_reverses_curves_whose_flat_side_is_minus():
    y = np.array([[3.0, 0.0, 1.0], [1.0, 0.0, 3.0]])
    from avalley.shift import orient
    np.testing.assert_array_equal(orient(y, [1, -1]), [[3.0, 0.0, 1.0], [3.0, 0.0, 1.0]])
    np.testing.assert_array_equal(orient(y, [0, 1]), y)


def test_shift_by_unit_decides_each_network_on_its_oriented_median():
    """Unit "a": two directions whose test curve is the train curve shifted by 0.6 towards
    the flat side (one of them written with its flat side on −u): holds at δ* = 0.6 after
    orientation. Unit "b": a pure vertical offset: fails, resolved gap 1."""
    from avalley.shift import resolved_gap, shift_by_unit
    ls = np.linspace(-5, 5, 201)
    v = Smooth(c=4.0, sharpness=3.0, flat=1)
    tr, te = v.value(ls), v.value(ls + 0.6) + 0.2
    train = np.stack([tr, tr[::-1], tr, tr * 1.1])
    test = np.stack([te, te[::-1], tr + 0.3, tr * 1.1 + 0.1])
    res = shift_by_unit(ls, train, test, ["a", "a", "b", "b"], [1, -1, 1, 1], delta_grid(2.0))
    assert list(res) == ["a", "b"]
    assert res["a"].status == HOLDS and res["a"].delta_star == pytest.approx(0.6)
    assert resolved_gap(res["a"]) == res["a"].gap_min < SHIFT_GAP_MAX
    assert res["b"].status == FAILS and resolved_gap(res["b"]) == 1.0
    with pytest.raises(ValueError, match="symmetric"):
        shift_by_unit(ls[:-1], train[:, :-1], test[:, :-1], [0] * 4, [1] * 4, delta_grid(2.0))


def test_resolved_gap_counts_a_one_step_shift_as_none_and_an_edge_as_a_bound():
    from avalley.shift import ShiftVerdict, resolved_gap
    d = delta_grid(1.0)

    def v_at(at, depth):
        g = 1 - (1 - depth) * np.maximum(0, 1 - np.abs(d - at) / 0.5)
        v = shift_verdict(d, g)
        return ShiftVerdict(v.status, v.reason, v.delta_star, v.gap_min, v.step, deltas=d, gap=g)
    assert resolved_gap(v_at(0.05, 0.2)) == 1.0                 # one step: inconclusive
    assert resolved_gap(v_at(1.0, 0.2)) == pytest.approx(0.2)   # at the end: a bound
    assert resolved_gap(v_at(0.4, 0.3)) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="curves"):
        resolved_gap(shift_verdict(d, np.ones_like(d)))


def test_cases_by_unit_reads_the_three_points_towards_each_side():
    from avalley.shift import cases_by_unit
    ls = np.linspace(-2, 2, 5)                                  # steps of 1
    y = np.array([[4.0, 3.0, 2.0, 1.0, 0.0],                    # value at l: 2 − l
                  [0.0, 1.0, 2.0, 3.0, 4.0]])
    rows = cases_by_unit(ls, {"test_loss": y}, [7, 7], [1, -1], 0.5)
    # direction 0 (flat +): II at +0.5 -> 1.5, III at -0.5 -> 2.5; direction 1 (flat −):
    # II at −0.5 -> 1.5, III at +0.5 -> 2.5
    assert rows == [{"unit": 7, "n_directions": 2, "test_loss I": 2.0,
                     "test_loss II": 1.5, "test_loss III": 2.5}]
    with pytest.raises(ValueError, match="flat side"):
        cases_by_unit(ls, {"x": y}, [0, 0], [1, 0], 0.5)
    with pytest.raises(ValueError, match="inside the scan"):
        cases_by_unit(ls, {"x": y}, [0, 0], [1, 1], 3.0)


def test_the_slides_values_are_the_ones_in_paper_md():
    from avalley.shift import SLIDE_DELTAS, SLIDE_GAPS
    assert SLIDE_DELTAS[4] == 0.4 and min(SLIDE_GAPS) == SLIDE_GAPS[4] == 0.15
    assert len(SLIDE_DELTAS) == len(SLIDE_GAPS) == 9
