"""One-dimensional valleys with analytic values and derivatives.

Each valley has its minimum at w = 0 with value 0. `flat` says which side is flat
(+1: w > 0 is flat, -1: w < 0 is flat); `c` is the sharp-to-flat slope (or curvature) ratio,
so c = 1 is symmetric. All methods take and return NumPy arrays (or floats).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class Valley:
    c: float = 5.0      # sharp side is c times steeper than the flat side
    flat: int = 1       # +1: the flat side is w > 0; -1: w < 0

    def __post_init__(self):
        if self.flat not in (1, -1):
            raise ValueError(f"flat must be +1 or -1, not {self.flat!r}")
        if not self.c >= 1:
            raise ValueError(f"c must be >= 1 (sharp over flat), not {self.c!r}")

    def _side(self, w):
        x = self.flat * np.asarray(w, dtype=float)   # x > 0 on the flat side
        return x, x >= 0

    def __call__(self, w):
        return self.value(w)


@dataclass(frozen=True)
class PiecewiseLinear(Valley):
    """L(w) = a|w| on the flat side, c·a|w| on the sharp side."""
    a: float = 1.0
    name = "piecewise linear"

    def value(self, w):
        x, flat = self._side(w)
        return np.where(flat, self.a * x, -self.c * self.a * x)

    def grad(self, w):
        x, flat = self._side(w)
        return self.flat * np.where(flat, self.a, -self.c * self.a) * np.ones_like(x)


@dataclass(frozen=True)
class PiecewiseQuadratic(Valley):
    """L(w) = k w²/2 on the flat side, c·k w²/2 on the sharp side."""
    k: float = 1.0
    name = "piecewise quadratic"

    def value(self, w):
        x, flat = self._side(w)
        return 0.5 * self.k * np.where(flat, 1.0, self.c) * x**2

    def grad(self, w):
        x, flat = self._side(w)
        return self.flat * self.k * np.where(flat, 1.0, self.c) * x


@dataclass(frozen=True)
class Smooth(Valley):
    """A softplus mixture: slope a far out on the flat side, c·a on the sharp side, smooth
    (curvature set by `sharpness`) at the bottom, minimum at 0 with value 0:
    L = [a·softplus(k(x+x0)) + c·a·softplus(-k(x+x0))]/k - L_min, x0 = log(c)/k."""
    a: float = 1.0
    sharpness: float = 2.0
    name = "smooth (softplus mixture)"

    def _raw(self, x):
        k = self.sharpness
        y = k * (x + np.log(self.c) / k)
        return (self.a * _softplus(y) + self.c * self.a * _softplus(-y)) / k

    def value(self, w):
        x, _ = self._side(w)
        return self._raw(x) - self._raw(0.0)

    def grad(self, w):
        x, _ = self._side(w)
        y = self.sharpness * x + np.log(self.c)
        return self.flat * self.a * (_sigmoid(y) - self.c * _sigmoid(-y))


@dataclass(frozen=True)
class Quadratic(PiecewiseQuadratic):
    """The symmetric reference: c = 1."""
    c: float = 1.0
    name = "symmetric quadratic"


# --- Definition 1, analytically -------------------------------------------------------------
# All valleys here are convex, so along the flat side the derivative grows with l and along
# the sharp side too: over l ∈ (r̄, r) the flat side's supremum is its derivative at r and the
# sharp side's infimum its derivative at r̄ (one-sided limits). These give the exact answer
# that `avalley.asymmetry` must reproduce from samples.

def definition1_slopes(valley: Valley, r_inner: float, r_outer: float):
    """(sup of d/dl L(l·f) over l ∈ (r̄, r), inf of d/dl L(−l·f) over the same l), where
    f = valley.flat points to the flat side. Piecewise-linear slopes are constant (and
    attained); for the other valleys they are limits at the window's ends (not attained)."""
    if not 0 <= r_inner < r_outer:
        raise ValueError(f"need 0 <= r_inner < r_outer, got ({r_inner!r}, {r_outer!r})")
    if isinstance(valley, PiecewiseLinear):
        return valley.a, valley.c * valley.a
    f = valley.flat
    flat_sup = f * float(valley.grad(f * r_outer))
    sharp_inf = -f * float(valley.grad(-f * r_inner))
    return flat_sup, sharp_inf


def definition1_truth(valley: Valley, r_inner: float, r_outer: float, p: float,
                      c: float) -> bool:
    """Is the direction towards the flat side (r̄, r, p, c)-asymmetric? Exact, including
    the open-interval ends: a limit that is not attained may equal its bound."""
    fs, si = definition1_slopes(valley, r_inner, r_outer)
    if isinstance(valley, PiecewiseLinear):
        return fs < p and si > c * p
    return fs <= p and si >= c * p


def largest_c_truth(valley: Valley, r_inner: float, r_outer: float):
    """The supremum of the admissible c and its p (= the flat side's supremum slope):
    (sharp_inf / flat_sup, flat_sup). c ≤ 1 means no asymmetry on this window."""
    fs, si = definition1_slopes(valley, r_inner, r_outer)
    return si / fs, fs
