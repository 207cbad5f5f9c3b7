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
# The check of the slides: along a direction, the gap between the test curve and the train
# curve shifted by δ, normalized by the unshifted gap, should fall to a clear interior
# minimum (slides: about 0.15 at δ ≈ 0.4). It must be able to fail.

SHIFT_GAP_MAX = 0.5          # "holds" needs the normalized gap to fall to at most this
DELTA_STEP_FRACTION = 0.05   # a δ grid's step is at most this fraction of max |δ|
HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"


def delta_grid(delta_max: float, step_fraction: float = DELTA_STEP_FRACTION) -> np.ndarray:
    """A symmetric δ grid on [−delta_max, delta_max] with δ = 0 exactly in the middle and
    n = ceil(1/step_fraction) steps on each side, so that its step is at most
    step_fraction·delta_max (41 points by default). Keep delta_max at most about half the
    scan's reach, so that every shifted comparison keeps most of the scan's steps."""
    if not (np.isfinite(delta_max) and delta_max > 0):
        raise ValueError(f"delta_max must be a positive number, got {delta_max!r}")
    if not 0 < step_fraction <= 0.5:
        raise ValueError(f"step_fraction must be in (0, 0.5], got {step_fraction!r}")
    n = int(np.ceil(1 / step_fraction - 1e-9))
    return delta_max * np.arange(-n, n + 1) / n


def _gaps(ls, train, test, deltas, remove_offset: bool):
    """ξ_δ, ξ_δ/ξ_0 and the offset removed, each (m, len(deltas)); see `shift_gap`."""
    ls = np.asarray(ls, dtype=float)
    tr = np.atleast_2d(np.asarray(train, dtype=float))
    te = np.atleast_2d(np.asarray(test, dtype=float))
    deltas = np.atleast_1d(np.asarray(deltas, dtype=float))
    if ls.ndim != 1 or ls.size < 3 or np.any(np.diff(ls) <= 0):
        raise ValueError(f"ls must be 1-D, strictly increasing, with at least 3 points; "
                         f"got shape {ls.shape}")
    if tr.shape != te.shape or tr.ndim != 2 or tr.shape[1] != ls.size:
        raise ValueError(f"train and test must both have shape (n,) or (m, n) with n = "
                         f"{ls.size} points of ls; got {np.shape(train)} and {np.shape(test)}")
    if not (np.all(np.isfinite(tr)) and np.all(np.isfinite(te)) and np.all(np.isfinite(deltas))):
        raise ValueError("train, test and deltas must be finite (no NaN or infinite values)")
    xi = np.empty((len(tr), deltas.size))
    ratio, offset = np.empty_like(xi), np.zeros_like(xi)
    for j, d in enumerate(deltas):
        keep = (ls + d >= ls[0]) & (ls + d <= ls[-1])
        if keep.sum() < 2:
            raise ValueError(f"the shift δ = {d:g} leaves fewer than 2 of the scan's steps "
                             f"inside [{ls[0]:g}, {ls[-1]:g}]: use smaller shifts")
        x = ls[keep] + d                                 # L_train(l + δ), interpolated
        i = np.clip(np.searchsorted(ls, x, side="right") - 1, 0, ls.size - 2)
        t = (x - ls[i]) / (ls[i + 1] - ls[i])
        r_d = te[:, keep] - ((1 - t) * tr[:, i] + t * tr[:, i + 1])
        r_0 = te[:, keep] - tr[:, keep]
        if remove_offset:       # the best constant for a mean absolute gap is the median
            offset[:, j] = np.median(r_d, axis=1)
            r_d = r_d - offset[:, j:j + 1]
            r_0 = r_0 - np.median(r_0, axis=1, keepdims=True)
        xi[:, j] = np.abs(r_d).mean(1)
        xi0 = np.abs(r_0).mean(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            # curves that coincide at δ = 0 (ξ_0 = 0): 1 where a shift also fits exactly
            ratio[:, j] = np.where(xi0 > 0, xi[:, j] / xi0, np.where(xi[:, j] > 0, np.inf, 1.0))
    return xi, ratio, offset


def shift_gap(ls, train, test, deltas, remove_offset: bool = False):
    """How well the train curve shifted by δ matches the test curve along one direction.

    ξ_δ = mean over l of |L_test(l) − L_train(l + δ)|, over the steps l of the grid for which
    l + δ is inside the scanned range (L_train linearly interpolated), and ξ_0 the unshifted
    gap mean |L_test(l) − L_train(l)| over the *same* steps, so that the ratio ξ_δ/ξ_0
    compares the shifted and the unshifted fit point for point (it is 1 at δ = 0).

    remove_offset=True removes the vertical train–test offset that fits best at every δ
    (for a mean absolute gap that is the median of L_test(l) − L_train(l + δ); likewise for
    ξ_0): ξ_δ = min_b mean |L_test(l) − L_train(l + δ) − b|. This gap is 0 at the true δ of
    a test curve that is a train curve shifted sideways *and* up, and it stays smallest at
    δ = 0 for curves that differ only by a vertical offset; the gap with the offset kept
    does neither (see `shift_check`). Where ξ_0 = 0 (the curves coincide up to the offset
    removed), the ratio is 1 where ξ_δ = 0 and +inf elsewhere.

    train, test: (n,) or (m, n) losses on the grid ls. Returns (ξ_δ, ξ_δ/ξ_0), each of
    shape (m, len(deltas)) (or (len(deltas),) for one curve). ValueError for mismatched
    shapes, non-finite values, or a δ that leaves fewer than 2 steps inside the scan."""
    xi, ratio, _ = _gaps(ls, train, test, deltas, remove_offset)
    single = np.ndim(train) == 1
    return (xi[0], ratio[0]) if single else (xi, ratio)


@dataclass(frozen=True, eq=False)
class ShiftVerdict:
    """The random-shift check for one curve pair (or one summary curve, e.g. a median).

    status: "holds" (a clear interior minimum), "fails" (the minimum is at δ = 0) or
    "inconclusive"; reason says why in words. delta_star and gap_min: where the deciding
    normalized gap is smallest and its value there. step: the δ grid's largest step.
    From `shift_check` also: offset, the vertical offset removed at delta_star;
    delta_star_raw and gap_min_raw, the same with the offset kept (reported, never
    deciding); and the curves deltas, gap (offset removed) and gap_raw (offset kept)."""
    status: str
    reason: str
    delta_star: float
    gap_min: float
    step: float
    offset: float = np.nan
    delta_star_raw: float = np.nan
    gap_min_raw: float = np.nan
    deltas: np.ndarray | None = None
    gap: np.ndarray | None = None
    gap_raw: np.ndarray | None = None


def _check_deltas(deltas, step_fraction):
    """Validate a δ grid; return it (float, 0 snapped) with the index of δ = 0 and its step."""
    d = np.asarray(deltas, dtype=float)
    if d.ndim != 1 or d.size < 3:
        raise ValueError(f"deltas must be 1-D with at least 3 shifts, got shape {d.shape}")
    if not np.all(np.isfinite(d)) or np.any(np.diff(d) <= 0):
        raise ValueError("deltas must be finite and strictly increasing")
    i0 = int(np.argmin(np.abs(d)))
    if abs(d[i0]) > 1e-9 * (d[-1] - d[0]):
        raise ValueError(f"deltas must contain δ = 0 (the unshifted comparison); the closest "
                         f"shift is {d[i0]:g}")
    d = d.copy()
    d[i0] = 0.0
    step, span = float(np.diff(d).max()), float(np.abs(d).max())
    if step > step_fraction * span * (1 + 1e-9):
        raise ValueError(f"the δ grid is too coarse: its step {step:g} exceeds "
                         f"{step_fraction:g}·max|δ| = {step_fraction * span:g}, so a minimum "
                         f"between shifts could be missed; use delta_grid({span:g})")
    return d, i0, step


def shift_verdict(deltas, gap, gap_max: float = SHIFT_GAP_MAX,
                  step_fraction: float = DELTA_STEP_FRACTION) -> ShiftVerdict:
    """Decide the random-shift check from a normalized gap curve ξ_δ/ξ_0 (1 at δ = 0) on a
    δ grid fine enough (step ≤ step_fraction·max|δ|, else ValueError; see `delta_grid`).

    With δ* the shift of the smallest gap (ties go to δ = 0, then to the smaller |δ|):
    - "fails" if δ* = 0: no shift fits the test curve better than none;
    - "inconclusive" if δ* is one grid step from 0 (a shift that small cannot be told from
      none at this resolution), if δ* is at an end of the grid (the minimum may lie
      beyond), or if the gap at δ* is above gap_max (the shift explains little);
    - "holds" otherwise: a clear interior minimum, at least two steps from δ = 0, with a
      normalized gap of at most gap_max (default 0.5; the slides show about 0.15)."""
    d, i0, step = _check_deltas(deltas, step_fraction)
    g = np.asarray(gap, dtype=float)
    if g.shape != d.shape or np.any(np.isnan(g)):
        raise ValueError(f"gap must be one value per shift without NaN: {d.size} expected, "
                         f"got shape {g.shape}")
    order = np.lexsort((np.abs(d), np.arange(d.size) != i0, g))    # by gap, then δ = 0, |δ|
    i = int(order[0])
    ds, gs = float(d[i]), float(g[i])
    if i == i0:
        return ShiftVerdict(FAILS, "the gap is smallest at δ = 0: no shift fits the test "
                            "curve better than none", 0.0, gs, step)
    if abs(i - i0) == 1:
        why = (f"the smallest gap ({gs:.3g}) is at δ = {ds:g}, one grid step from δ = 0: a "
               "shift that small cannot be told from none on this grid")
    elif i in (0, d.size - 1):
        why = (f"the smallest gap ({gs:.3g}) is at the end of the δ grid (δ = {ds:g}): the "
               "minimum may lie beyond it; widen the grid")
    elif gs > gap_max:
        why = (f"the best shift δ = {ds:g} lowers the gap only to {gs:.3g} of the unshifted "
               f"gap; holding needs at most {gap_max:g}")
    else:
        return ShiftVerdict(HOLDS, f"interior minimum {gs:.3g} ≤ {gap_max:g} at δ = {ds:g}",
                            ds, gs, step)
    return ShiftVerdict(INCONCLUSIVE, why, ds, gs, step)


def shift_check(ls, train, test, deltas=None, gap_max: float = SHIFT_GAP_MAX,
                step_fraction: float = DELTA_STEP_FRACTION) -> ShiftVerdict:
    """The random-shift check (Assumption 1) for one pair of curves, train and test (n,) on
    the grid ls, as the slides draw it: the normalized gap ξ_δ/ξ_0 against δ.

    The gap with the vertical train–test offset removed (`shift_gap` with
    remove_offset=True) decides, through `shift_verdict`. The gap with the offset kept
    cannot: for a pair that differs *only* by a vertical offset b, along an asymmetric
    valley (slopes a and c·a), shifting the train curve by δ = −b/(c·a) cancels the offset
    on the sharp side, and the gap falls to about (1 + 1/c)/2 of ξ_0 at that interior δ, a
    "minimum" that no horizontal shift explains. With the offset removed that pair fits
    exactly at δ = 0 and fails. The offset-kept curve is reported beside it.

    deltas: the δ grid (default `delta_grid` with max |δ| half the scan's reach); it must
    be fine enough (see `shift_verdict`). Returns a ShiftVerdict with the curves."""
    ls = np.asarray(ls, dtype=float)
    if np.ndim(train) != 1 or np.ndim(test) != 1:
        raise ValueError("shift_check takes one pair of curves (1-D train and test); for many "
                         "pairs call it per pair, or decide a summary curve with shift_verdict")
    if deltas is None:
        if ls.ndim != 1 or ls.size < 3:
            raise ValueError(f"ls must be 1-D with at least 3 points, got shape {ls.shape}")
        deltas = delta_grid(0.5 * min(-ls[0], ls[-1]) if ls[0] < 0 < ls[-1]
                            else 0.25 * (ls[-1] - ls[0]), step_fraction)
    d, _, _ = _check_deltas(deltas, step_fraction)
    _, gap, offset = _gaps(ls, train, test, d, True)
    _, gap_raw, _ = _gaps(ls, train, test, d, False)
    v = shift_verdict(d, gap[0], gap_max, step_fraction)
    raw = shift_verdict(d, gap_raw[0], gap_max, step_fraction)
    j = int(np.flatnonzero(d == v.delta_star)[0])
    return ShiftVerdict(v.status, v.reason, v.delta_star, v.gap_min, v.step,
                        offset=float(offset[0, j]), delta_star_raw=raw.delta_star,
                        gap_min_raw=raw.gap_min, deltas=d, gap=gap[0], gap_raw=gap_raw[0])


# ---- the check and the three cases over networks ------------------------------------------
# Slides (the random-shift check): ξ_δ/ξ_0 at δ = 0, 0.1, ..., 0.8, read off the plot.
SLIDE_DELTAS = tuple(round(0.1 * i, 1) for i in range(9))
SLIDE_GAPS = (1.0, 0.77, 0.52, 0.25, 0.15, 0.37, 0.67, 1.0, 1.33)


def orient(curves, flat_side):
    """Curves (m, n) on a grid symmetric about 0 (l_i = −l_{n−1−i}), each reversed where its
    flat side is −u, so that the flat side of every curve is +l. flat_side (m,): +1, −1 or 0
    (0 and +1 are left as they are)."""
    y = np.atleast_2d(np.asarray(curves, dtype=float))
    f = np.broadcast_to(np.asarray(flat_side), (len(y),))
    return np.where((f == -1)[:, None], y[:, ::-1], y)


def resolved_gap(v: ShiftVerdict) -> float:
    """One network's number for the combined random-shift finding (see `shift_by_unit`):
    the smallest normalized gap where the δ grid resolves a shift, that is an interior
    minimum at least two steps from δ = 0; 1 (no shift explains anything) where the minimum
    is at δ = 0 or one grid step from it; and the gap at the grid's end where the minimum
    is there (the true minimum lies beyond and is at most that: an upper bound)."""
    if v.deltas is None or v.gap is None:
        raise ValueError("resolved_gap needs a ShiftVerdict with its curves (from shift_check "
                         "or shift_by_unit)")
    i0 = int(np.flatnonzero(v.deltas == 0.0)[0])
    i = int(np.flatnonzero(v.deltas == v.delta_star)[0])
    return 1.0 if abs(i - i0) <= 1 else float(v.gap_min)


def shift_by_unit(ls, train, test, units, flat_side, deltas, gap_max: float = SHIFT_GAP_MAX,
                  step_fraction: float = DELTA_STEP_FRACTION) -> dict:
    """The random-shift check decided per unit (a network), on many directions per unit.

    ls: a grid symmetric about 0; train, test (m, n): the losses along m directions; units
    (m,): the unit of each direction (e.g. its training seed); flat_side (m,): each
    direction's flat side (+1/−1), used to orient the curves so that δ > 0 shifts the train
    curve towards the flat side. Per unit, the normalized gaps ξ_δ/ξ_0 of its directions
    (`shift_gap`, offset removed and kept) are summarized by their median over directions
    (directions through one network are not independent: U(0,1) directions are nearly
    parallel), and the offset-removed median curve is decided by `shift_verdict`.

    Returns {unit: ShiftVerdict} (with the curves: gap = median offset removed, gap_raw =
    median offset kept; delta_star_raw / gap_min_raw from the offset-kept median; offset =
    the median over directions of the vertical offset removed at delta_star)."""
    ls = np.asarray(ls, dtype=float)
    if not np.allclose(ls, -ls[::-1]):
        raise ValueError("shift_by_unit needs a grid symmetric about 0, to orient the curves")
    tr, te = orient(train, flat_side), orient(test, flat_side)
    units = np.asarray(units)
    if len(units) != len(tr):
        raise ValueError(f"units must name the unit of each of the {len(tr)} curves, got "
                         f"{len(units)}")
    d, _, _ = _check_deltas(deltas, step_fraction)
    out = {}
    for u in dict.fromkeys(units.tolist()):
        rows = units == u
        _, gap, offset = _gaps(ls, tr[rows], te[rows], d, True)
        _, gap_raw, _ = _gaps(ls, tr[rows], te[rows], d, False)
        g, g_raw = np.median(gap, 0), np.median(gap_raw, 0)
        v = shift_verdict(d, g, gap_max, step_fraction)
        raw = shift_verdict(d, g_raw, gap_max, step_fraction)
        j = int(np.flatnonzero(d == v.delta_star)[0])
        out[u] = ShiftVerdict(v.status, v.reason, v.delta_star, v.gap_min, v.step,
                              offset=float(np.median(offset[:, j])),
                              delta_star_raw=raw.delta_star, gap_min_raw=raw.gap_min,
                              deltas=d, gap=g, gap_raw=g_raw)
    return out


CASES = ("I", "II", "III")


def cases_by_unit(ls, curves: dict, units, flat_side, bias: float) -> list:
    """Case I (the centre, l = 0), Case II (moved by `bias` towards the flat side) and Case
    III (by `bias` towards the sharp side) read off line scans, averaged per unit.

    curves: name -> (m, n) values along m directions on the grid ls (e.g. "test_loss",
    "test_acc"); units (m,) and flat_side (m,) (+1/−1) per direction; values between grid
    points are linearly interpolated. Returns one dict per unit, in order of first
    appearance: {"unit", "n_directions", "<name> <case>": mean over the unit's directions}."""
    ls = np.asarray(ls, dtype=float)
    units, flat = np.asarray(units), np.asarray(flat_side)
    if not 0 < bias <= min(-ls[0], ls[-1]):
        raise ValueError(f"bias {bias:g} must be positive and inside the scan "
                         f"[{ls[0]:g}, {ls[-1]:g}]")
    if np.any(~np.isin(flat, (-1, 1))):
        raise ValueError("every direction needs a flat side, +1 or -1")
    rows = []
    for u in dict.fromkeys(units.tolist()):
        sel = np.flatnonzero(units == u)
        row = {"unit": u, "n_directions": int(sel.size)}
        for name, y in curves.items():
            y = np.atleast_2d(np.asarray(y, dtype=float))
            for case, sign in zip(CASES, (0, 1, -1)):
                row[f"{name} {case}"] = float(np.mean(
                    [np.interp(sign * flat[i] * bias, ls, y[i]) for i in sel]))
        rows.append(row)
    return rows
