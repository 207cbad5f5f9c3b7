"""The random-shift model (Assumption 1) and Theorem 1.

The population loss is the empirical loss shifted by a random, symmetric, zero-mean δ, up to
an error bounded by ξ: L(w) = L̂(w + δ) + ε(w + δ), |ε| ≤ ξ. This module computes the expected
population loss E_δ L(ŵ* + b) of any bias b, for 1-D valleys (`avalley.valleys`) and for
k-dimensional ones made of k 1-D valleys along orthogonal directions (`Separable`), exactly
(two-point shifts), by quadrature where possible and by Monte Carlo with a standard error
otherwise; and Theorem 1's lower bound Σ (c_i − 1) l_i p_i / 2 − 2kξ with its conditions.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

# "two-point": δ = ±spread with probability 1/2 each (per direction): the setting in which
# Theorem 1's bound is derived, and the only one where the theorem's conditions can hold
# for every draw of δ.
SHIFTS = ("uniform", "gaussian", "two-point")


def sample_shifts(dist: str, spread, n: int, rng: np.random.Generator, k: int | None = None):
    """δ ~ U(-spread, spread), N(0, spread²) or ±spread, i.i.d. per direction; shape (n,) for
    k=None, else (n, k). `spread` may be a length-k array (one spread per direction)."""
    shape = n if k is None else (n, k)
    spread = np.asarray(spread, dtype=float)
    if dist == "uniform":
        return rng.uniform(-1.0, 1.0, size=shape) * spread
    if dist == "gaussian":
        return rng.normal(0.0, 1.0, size=shape) * spread
    if dist == "two-point":
        return rng.choice([-1.0, 1.0], size=shape) * spread
    raise ValueError(f"unknown shift distribution {dist!r}; valid: {', '.join(SHIFTS)}")


def expected_loss_mc(valley, bias, dist: str, spread: float, n: int = 100_000, seed: int = 0):
    """Monte Carlo E_δ L̂(b + δ) for each bias b: returns (mean, standard error) arrays.
    Common random numbers across biases, so differences between biases are precise."""
    rng = np.random.default_rng(seed)
    d = sample_shifts(dist, spread, n, rng)
    b = np.atleast_1d(np.asarray(bias, dtype=float))
    vals = valley.value(b[:, None] + d[None, :])
    return vals.mean(1), vals.std(1, ddof=1) / np.sqrt(n)


def _legendre(valley, lo, hi, density, order: int):
    """∫ valley(x)·density(x - centre) dx over [lo, hi] per row, by Gauss–Legendre, split at
    the kink w = 0 when it lies inside (so piecewise valleys are integrated exactly)."""
    x, wts = np.polynomial.legendre.leggauss(order)
    out = np.zeros(len(lo))
    for i, (l, h) in enumerate(zip(lo, hi)):
        edges = [l, 0.0, h] if l < 0.0 < h else [l, h]
        for a0, a1 in zip(edges[:-1], edges[1:]):
            mid, half = (a0 + a1) / 2, (a1 - a0) / 2
            pts = mid + half * x
            out[i] += half * np.sum(wts * valley.value(pts) * density(pts - (l + h) / 2))
    return out


def expected_loss_quad(valley, bias, dist: str, spread: float, order: int = 200):
    """E_δ L̂(b + δ) by Gauss–Legendre quadrature split at the kink (uniform; Gaussian on
    b ± 10·spread, where the tails are below 1e-20), or exactly for the two-point shift."""
    b = np.atleast_1d(np.asarray(bias, dtype=float))
    if dist == "two-point":
        return 0.5 * (valley.value(b - spread) + valley.value(b + spread))
    if dist == "uniform":
        return _legendre(valley, b - spread, b + spread,
                         lambda d: np.full_like(d, 1 / (2 * spread)), order)
    if dist == "gaussian":
        return _legendre(valley, b - 10 * spread, b + 10 * spread,
                         lambda d: np.exp(-0.5 * (d / spread) ** 2) / (spread * np.sqrt(2 * np.pi)),
                         order)
    raise ValueError(f"unknown shift distribution {dist!r}; valid: {', '.join(SHIFTS)}")


def gain_mc(valley, bias: float, dist: str, spread: float, n: int = 100_000, seed: int = 0):
    """E_δ[L̂(δ) - L̂(b + δ)]: how much lower the expected population loss is at the biased
    point than at the minimizer. Paired over the same δ; returns (mean, standard error)."""
    d = sample_shifts(dist, spread, n, np.random.default_rng(seed))
    diff = valley.value(d) - valley.value(bias + d)
    return diff.mean(), diff.std(ddof=1) / np.sqrt(n)


def best_bias(valley, dist: str, spread: float, lim: float | None = None, n: int = 801):
    """The bias with the lowest expected population loss, on a grid over [-lim, lim]
    (default: 2·spread, or 6·spread for the unbounded Gaussian)."""
    lim = lim or spread * (6.0 if dist == "gaussian" else 2.0)
    bs = np.linspace(-lim, lim, n)
    return float(bs[np.argmin(expected_loss_quad(valley, bs, dist, spread))])


# ---- k dimensions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Separable:
    """L̂(w) = Σ_i V_i(w_i): k 1-D valleys along k orthogonal directions u^1..u^k (the
    coordinate axes here), the simplest valley that meets Assumption 2 in k dimensions."""
    parts: tuple

    @property
    def k(self) -> int:
        return len(self.parts)

    def value(self, w):
        w = np.asarray(w, dtype=float)
        return sum(v.value(w[..., i]) for i, v in enumerate(self.parts))


@dataclass(frozen=True)
class Ripple:
    """A bounded error between the shifted empirical loss and the population loss,
    ε(x) = ξ·sin(ω·Σ_i x_i + φ), so |ε| ≤ ξ as Assumption 1 allows. x has shape (..., k)."""
    xi: float
    omega: float = 1.0
    phase: float = 0.0

    def value(self, x):
        return self.xi * np.sin(self.omega * np.asarray(x, dtype=float).sum(-1) + self.phase)


def population_loss(valley, w, delta, error: Ripple | None = None):
    """L(w) for the shift δ: L̂(w + δ) + ε(w + δ)."""
    x = np.asarray(w, dtype=float) + np.asarray(delta, dtype=float)
    return valley.value(x) + (0.0 if error is None else error.value(x))


def expected_loss_k(valley, bias, dist: str, spread, error: Ripple | None = None,
                    n: int = 200_000, seed: int = 0):
    """E_δ L(ŵ* + b) for a k-dim `Separable` valley and biases b of shape (m, k) (or (k,)),
    δ i.i.d. per direction. Returns (mean, standard error, method):
    exact enumeration of the 2^k sign patterns for the two-point shift; a sum of 1-D
    quadratures when the valley is separable and there is no error term; Monte Carlo with
    common random numbers across biases otherwise."""
    b = np.atleast_2d(np.asarray(bias, dtype=float))
    k = b.shape[1]
    spread = np.broadcast_to(np.asarray(spread, dtype=float), (k,))
    if dist == "two-point":
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=k)))   # (2^k, k)
        vals = population_loss(valley, b[:, None, :], signs[None] * spread, error)
        return vals.mean(1), np.zeros(len(b)), "exact"
    if error is None and isinstance(valley, Separable):
        mean = sum(expected_loss_quad(v, b[:, i], dist, spread[i])
                   for i, v in enumerate(valley.parts))
        return mean, np.zeros(len(b)), "quadrature"
    d = sample_shifts(dist, spread, n, np.random.default_rng(seed), k=k)
    vals = np.stack([population_loss(valley, bi, d, error) for bi in b])     # (m, n)
    return vals.mean(1), vals.std(1, ddof=1) / np.sqrt(n), "monte carlo"


def paired_gain_k(valley, bias, dist: str, spread, error: Ripple | None = None,
                  n: int = 200_000, seed: int = 0):
    """E_δ[L(ŵ*) − L(ŵ* + b)] with its standard error, paired over the same δ."""
    b = np.asarray(bias, dtype=float)
    if dist == "two-point":
        m, _, _ = expected_loss_k(valley, np.stack([0 * b, b]), dist, spread, error)
        return m[0] - m[1], 0.0
    d = sample_shifts(dist, spread, n, np.random.default_rng(seed), k=len(b))
    diff = population_loss(valley, 0 * b, d, error) - population_loss(valley, b, d, error)
    return diff.mean(), diff.std(ddof=1) / np.sqrt(n)


# ---- Theorem 1 ------------------------------------------------------------------------


def window_constants(valley, r_in: float, r_out: float, reach: float | None = None,
                     n: int = 4001):
    """(p, c) with which the valley is asymmetric towards its flat side on the window
    l ∈ (r_in, r_out): the largest c of Definition 1 (`avalley.asymmetry.largest_c`) on the
    valley sampled over [-reach, reach], with its p."""
    from .asymmetry import largest_c
    reach = reach or 1.25 * r_out
    ls = np.linspace(-reach, reach, n)          # odd n: l = 0 is on the grid, so is the kink
    c, p = largest_c(ls, valley.value(ls), r_in, r_out, flat=valley.flat)
    return float(p), float(c)


def theorem1_bound(l, p, c, xi: float) -> float:
    """Σ_i (c_i − 1) l_i p_i / 2 − 2kξ."""
    l, p, c = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float)) for v in (l, p, c)))
    return float(np.sum((c - 1) * l * p / 2) - 2 * len(l) * xi)


def theorem1_conditions(l, p, c, xi: float, r_in, r_out, delta_bar) -> dict:
    """The conditions on l_i under which the bound holds, per direction, for a shift whose
    component along u^i is ±δ̄_i:
    - `lower`: l_i > 4ξ/((c_i − 1) p_i), which makes the bound positive;
    - `upper`: l_i ≤ min(δ̄_i − r_in, r_out − δ̄_i), so that both ŵ* ± δ̄_i and the biased
      points ŵ* + l_i ± δ̄_i lie in the asymmetric window (what the pairing proof needs);
    - `upper_slides`: l_i ≤ max(r_out − δ̄_i, δ̄_i − r_in), the form printed on the slides
      (reading their r̄ as the outer radius), which is weaker; reported for comparison.
    `holds` is lower and upper for every direction."""
    l, p, c, r_in, r_out, db = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, dtype=float)) for v in (l, p, c, r_in, r_out, delta_bar)))
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = (c > 1) & (l > 4 * xi / ((c - 1) * p))
    upper = l <= np.minimum(db - r_in, r_out - db) + 1e-12
    slides = l <= np.maximum(r_out - db, db - r_in) + 1e-12
    return {"lower": bool(lower.all()), "upper": bool(upper.all()),
            "upper_slides": bool(slides.all()), "holds": bool((lower & upper).all())}


# ---- Assumption 1 on a network: is the test curve a shifted train curve? -----------------


def shift_gap(ls, train, test, deltas):
    """How well the train curve shifted by δ matches the test curve along one direction.

    ξ_δ = mean over l of |L_test(l) − L_train(l + δ)|, over the steps l of the grid for which
    l + δ is inside the scanned range (L_train linearly interpolated), and ξ_0 the unshifted
    gap mean |L_test(l) − L_train(l)| over the *same* steps, so that the ratio ξ_δ/ξ_0
    compares the shifted and the unshifted fit point for point (it is 1 at δ = 0).
    train, test: (n,) or (m, n) losses on the grid ls. Returns (ξ_δ, ξ_δ/ξ_0), each of
    shape (m, len(deltas)) (or (len(deltas),) for one curve)."""
    ls = np.asarray(ls, dtype=float)
    tr, te = np.atleast_2d(train).astype(float), np.atleast_2d(test).astype(float)
    xi = np.empty((len(tr), len(deltas)))
    ratio = np.empty_like(xi)
    for j, d in enumerate(deltas):
        keep = (ls + d >= ls[0]) & (ls + d <= ls[-1])
        for i in range(len(tr)):
            moved = np.interp(ls[keep] + d, ls, tr[i])
            xi[i, j] = np.abs(te[i, keep] - moved).mean()
            ratio[i, j] = xi[i, j] / np.abs(te[i, keep] - tr[i, keep]).mean()
    single = np.ndim(train) == 1
    return (xi[0], ratio[0]) if single else (xi, ratio)
