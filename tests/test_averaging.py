"""The Theorem 2 simulator against a closed form, a slow reference loop, and the theorem."""
import numpy as np
import pytest

from avalley.averaging import (
    BoundedSlopeValley,
    quadratic_average_moments,
    reference_sgd,
    simulate_sgd,
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
