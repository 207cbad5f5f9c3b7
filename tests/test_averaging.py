"""The Theorem 2 simulator against a closed form, a slow reference loop, and the theorem;
the chain's stationary law on a grid against closed forms and against the simulator."""
import numpy as np
import pytest

from avalley.averaging import (
    BoundedSlopeValley,
    SGDRuns,
    agrees,
    chain_grid,
    constant_slope_mean,
    expected_average,
    quadratic_average_moments,
    reference_sgd,
    relaxation_steps,
    simulate_sgd,
    stationary_distribution,
    theorem2_conditions,
)
from avalley.valleys import PiecewiseLinear, Quadratic


def test_symmetric_quadratic_matches_closed_form():
    # linear chain: mean and variance of the average iterate are known exactly
    k, lr, noise, steps, burn, w0 = 2.0, 0.05, 1.0, 300, 20, 1.0
    sim = simulate_sgd(Quadratic(k=k), lr, noise, steps, runs=20000, w0=w0, burn_in=burn,
                       seed=1)
    mean, var = quadratic_average_moments(k, lr, noise, steps, w0, burn)
    assert abs(sim.average.mean() - mean) < 4 * np.sqrt(var / 20000)
    assert sim.average.var(ddof=1) == pytest.approx(var, rel=0.05)


@pytest.mark.parametrize("valley", [PiecewiseLinear(c=5.0),
                                    BoundedSlopeValley(1.0, 4.0, b_plus=0.5, b_minus=-6.0,
                                                       pattern="random", spacing=0.02)])
def test_vectorized_equals_reference_loop(valley):
    kw = dict(lr=0.05, noise=1.0, steps=60, runs=25, w0=0.3, burn_in=7, seed=3)
    np.testing.assert_allclose(simulate_sgd(valley, **kw).average, reference_sgd(valley, **kw),
                               rtol=0, atol=1e-12)


def test_bounded_valley_gradients_and_values():
    v = BoundedSlopeValley(1.0, 10.0, b_plus=0.5, b_minus=-15.0, pattern="random",
                           spacing=0.1, seed=2)
    w = np.linspace(-3, 3, 6001)
    g = v.grad(w)
    assert np.all((g[w >= 0] >= 0.5) & (g[w >= 0] <= 1.0))
    assert np.all((g[w < 0] >= -15.0) & (g[w < 0] <= -10.0))
    # the value is the integral of the gradient, 0 at the minimum
    assert v.value(0.0) == 0.0
    centres = (np.arange(-29, 30) + 0.5) * 0.1          # segment centres, away from kinks
    slope = (v.value(centres + 0.01) - v.value(centres - 0.01)) / 0.02
    np.testing.assert_allclose(slope, v.grad(centres), atol=1e-9)
    const = BoundedSlopeValley(2.0, 3.0)
    np.testing.assert_allclose(const.value([-1.0, 1.0]), [6.0, 2.0])


def test_conditions_need_large_c():
    assert not theorem2_conditions(BoundedSlopeValley(1.0, 10.0), noise=1.0)["met"]
    assert theorem2_conditions(BoundedSlopeValley(1.0, 20.0), noise=1.0)["met"]
    assert not theorem2_conditions(BoundedSlopeValley(1.0, 20.0), noise=1.5)["met"]  # ν > a_+


def test_average_is_biased_to_flat_side_and_grows_with_c():
    means = []
    for c in (1.0, 5.0, 20.0):
        sim = simulate_sgd(BoundedSlopeValley(1.0, c), 0.05, 1.0, 800, 4000, burn_in=100,
                           bins=np.linspace(-1, 2, 31))
        m, lo, hi = sim.mean_average()
        means.append(m)
        assert sim.occupancy.sum() == 700 * 4000
        if c == 1.0:
            assert lo < 0 < hi and abs(sim.flat_fraction - 0.5) < 0.01
        else:
            assert lo > 0 and sim.flat_fraction > 0.75
    assert means[0] < means[1] < means[2]


# --- the stationary-distribution reference -------------------------------------------------

LR, NOISE = 0.05, 1.0                      # the book's swa chapter: η, ν, a_+ = 1
BOOK_CS = [1.0, 2.0, 5.0, 20.0, 40.0]


def random_valley(c):
    # the chapter's random-slope variant: b_+ = a_+/2, b_- = 1.5 a_-, pieces of length 0.05
    return BoundedSlopeValley(1.0, c, b_plus=0.5, b_minus=-1.5 * c, pattern="random",
                              spacing=0.05, seed=0)


@pytest.mark.parametrize("a_plus, c, lr, noise", [(1.0, c, LR, NOISE) for c in BOOK_CS]
                         + [(1.0, 1.5, 0.05, 1.0), (1.0, 5.0, 0.03, 0.7), (2.0, 3.0, 0.05, 1.5)])
def test_stationary_reference_matches_closed_form(a_plus, c, lr, noise):
    # constant slopes, ν <= a_+: the stationary law is uniform on [-η a_+, η c a_+] convolved
    # with U(-ην, ην), mean η(c - 1)a_+/2 (0 for the symmetric c = 1), flat share c/(1 + c)
    v = BoundedSlopeValley(a_plus, c)
    s = stationary_distribution(v, lr, noise)
    assert s.mean == pytest.approx(lr * (c - 1) * a_plus / 2, abs=1e-10)
    assert s.mean == pytest.approx(constant_slope_mean(v, lr, noise), abs=1e-10)
    assert s.flat_share == pytest.approx(c / (1 + c), abs=1e-10)
    # the whole density: the trapezoid averaged over each cell (fine midpoint rule)
    lo, hi, r = -lr * a_plus, lr * c * a_plus, lr * noise
    u = (np.arange(200) + 0.5) / 200
    x = s.edges[:-1, None] + np.diff(s.edges)[:, None] * u
    overlap = np.minimum(x + r, hi) - np.maximum(x - r, lo)
    trapezoid = np.clip(overlap, 0, None).mean(axis=1) / (2 * r * (hi - lo))
    np.testing.assert_allclose(s.density, trapezoid, rtol=0, atol=1e-6)
    # the grid spans the support the dynamics allow, to within a cell
    h = s.edges[1] - s.edges[0]
    assert -1e-12 < -lr * (a_plus + noise) - s.edges[0] < h
    assert -1e-12 < s.edges[-1] - lr * (c * a_plus + noise) < h


@pytest.mark.parametrize("c", [2.0, 5.0, 40.0])
def test_stationary_reference_on_random_slopes(c):
    # no closed form, but stationarity of E[w] and E[w²] gives E[g(w)] = 0 and
    # E[w g(w)] = η/2 (E[g²] + ν²/3); the grid adds O(h²) (h²/(12η) to the second)
    v = random_valley(c)
    s = stationary_distribution(v, LR, NOISE)
    g = v.grad(s.centres)
    assert abs(s.mass @ g) < 1e-12
    assert s.mass @ (s.centres * g) == pytest.approx(LR / 2 * (s.mass @ g**2 + NOISE**2 / 3),
                                                    abs=1e-5)
    # ν > b_+: the flat side's tail runs past η(|b_-| + ν), and the grid holds it
    assert s.edges[-1] > LR * (1.5 * c + NOISE) and s.mass[-50:].sum() < 1e-12
    # the mean has converged in the grid: far below the simulation's half-widths (>= 3e-5)
    coarse = stationary_distribution(v, LR, NOISE, resolution=25)
    assert abs(coarse.mean - s.mean) < 5e-6


# (pattern, c, burn_in): burn-in long enough for the start to be forgotten (checked below)
AGREEMENT = [("constant", c, round(8 * relaxation_steps(BoundedSlopeValley(1.0, c), NOISE)) + 50
              if c > 1 else 50) for c in BOOK_CS] + [("random", 5.0, 100), ("random", 40.0, 1000)]


@pytest.mark.parametrize("pattern, c, burn_in", AGREEMENT)
def test_simulation_agrees_with_stationary_reference(pattern, c, burn_in):
    v = BoundedSlopeValley(1.0, c) if pattern == "constant" else random_valley(c)
    steps, runs = burn_in + 1000, 2000
    sim = simulate_sgd(v, LR, NOISE, steps, runs, burn_in=burn_in, seed=0)
    ref = stationary_distribution(v, LR, NOISE)
    m, lo, hi = sim.mean_average()
    # what the simulation estimates is the finite-run E[w̄]; here it is the stationary mean
    # to far below the interval's half-width
    assert abs(expected_average(v, LR, NOISE, steps, 0.0, burn_in) - ref.mean) < (hi - m) / 10
    ok, z = agrees(sim, ref.mean)
    assert ok, (m, lo, hi, ref.mean, z)
    if c > 1:                                   # a reference with the wrong η is caught
        for lr in (0.9 * LR, 1.1 * LR):
            ok, z = agrees(sim, stationary_distribution(v, lr, NOISE).mean)
            assert not ok and abs(z) > 10


def test_burn_in_bias_at_book_settings_is_seen_by_the_reference():
    # the chapter's settings (100 of 1000 steps burnt, w0 = 0) at c = 40: the start is not yet
    # forgotten (relaxation over ~255 steps), so E[w̄] sits ~2.6e-3 below the stationary mean,
    # outside the interval; the finite-run expectation on the same grid is inside it
    v = BoundedSlopeValley(1.0, 40.0)
    sim = simulate_sgd(v, LR, NOISE, 1000, 10000, burn_in=100, seed=0)
    finite = expected_average(v, LR, NOISE, 1000, 0.0, 100)
    assert agrees(sim, finite)[0]
    ok, z = agrees(sim, stationary_distribution(v, LR, NOISE).mean)
    assert not ok and z < -10
    assert relaxation_steps(v, NOISE) == pytest.approx(255.3, abs=0.1)


def test_agrees_rule():
    avg = np.array([0.9, 1.1] * 50)                     # mean 1, standard error 0.01005
    sim = SGDRuns(final=avg, average=avg, trace=None)
    se = sim.standard_error()
    assert agrees(sim, 1.0) == (True, 0.0)
    ok, z = agrees(sim, 1.0 - 1.9 * se)
    assert ok and z == pytest.approx(1.9)
    ok, z = agrees(sim, 1.0 + 2.0 * se)
    assert not ok and z == pytest.approx(-2.0)


def test_reference_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="BoundedSlopeValley"):
        stationary_distribution(PiecewiseLinear(c=5.0), LR, NOISE)
    with pytest.raises(ValueError, match="constant slopes"):
        constant_slope_mean(random_valley(5.0), LR, NOISE)
    with pytest.raises(ValueError, match="min"):
        constant_slope_mean(BoundedSlopeValley(1.0, 5.0), LR, 1.5)      # ν > a_+
    with pytest.raises(ValueError, match="noise > 0"):
        chain_grid(BoundedSlopeValley(1.0, 5.0), LR, 0.0)
