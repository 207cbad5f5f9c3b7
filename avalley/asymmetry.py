"""Asymmetry of sampled 1-D loss curves, and Definition 1 as an executable test.

A curve is `ls` (steps l along a unit direction u, strictly increasing, containing l = 0,
the centre w, up to rounding) and `losses` = L̂(w + l·u) at those steps: shape (n,) for one curve or
(m, n) for m curves sharing the grid (every function is vectorized over the m curves and
returns arrays of shape (m,), or scalars for a single curve).

Semantics on samples. The sampled curve is read as its piecewise-linear interpolant, and
Definition 1 is tested *exactly on that interpolant*: its derivative on the open window
(r̄, r) is the set of slopes of the grid segments that overlap the window. Each slope is the
mean derivative over its segment, so for a smooth curve the sampled extremes differ from the
true ones by at most the change of the derivative over one grid step at each end of the
window (either way); for a piecewise-linear valley with its kink on the grid (l = 0) the
test is exact at any grid density.

Orientation. Definition 1 names the flat side w + l·u and the sharp side w − l·u. `flat=+1`
tests that orientation; `flat=-1` tests u → −u (the flat side is the negative one);
`flat=None` tries both and reports which one holds. Both cannot hold at once for c > 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_POINTS = 3   # one segment on each side of l = 0, at least
ZERO_TOL = 1e-9  # a step within this fraction of the span from 0 is the centre l = 0


def symmetric_grid(reach: float, n_side: int) -> np.ndarray:
    """2·n_side + 1 evenly spaced steps on [−reach, reach] with l = 0 exactly in the middle
    (np.linspace can miss 0 by a rounding error; `check_curve` snaps such a point)."""
    if n_side < 1 or not reach > 0:
        raise ValueError(f"need reach > 0 and n_side >= 1, got {reach!r}, {n_side!r}")
    return reach * np.arange(-n_side, n_side + 1) / n_side


def check_curve(ls, losses):
    """Validate a curve; return (ls as float (n,), losses as float (m, n), single-curve flag).
    A step within ZERO_TOL·span of 0 is taken as l = 0 exactly.

    ValueError with a readable message for: not 1-D/2-D, length mismatch, fewer than
    MIN_POINTS points, unsorted or repeated l, no sample at l = 0, NaN or infinite values."""
    ls = np.asarray(ls, dtype=float)
    y = np.asarray(losses, dtype=float)
    if ls.ndim != 1:
        raise ValueError(f"ls must be 1-D, got shape {ls.shape}")
    single = y.ndim == 1
    if y.ndim not in (1, 2):
        raise ValueError(f"losses must be 1-D (one curve) or 2-D (curves × points), "
                         f"got shape {y.shape}")
    y = np.atleast_2d(y)
    if y.shape[1] != ls.size:
        raise ValueError(f"losses have {y.shape[1]} points per curve but ls has {ls.size}")
    if ls.size < MIN_POINTS:
        raise ValueError(f"a curve needs at least {MIN_POINTS} points (one on each side of "
                         f"l = 0 and l = 0 itself), got {ls.size}")
    if not np.all(np.isfinite(ls)):
        raise ValueError("ls contains NaN or infinite values")
    d = np.diff(ls)
    if np.any(d == 0):
        i = int(np.argmax(d == 0))
        raise ValueError(f"ls has a repeated value {ls[i]:g} (at indices {i} and {i + 1})")
    if np.any(d < 0):
        i = int(np.argmax(d < 0))
        raise ValueError(f"ls must be sorted increasing; ls[{i}] = {ls[i]:g} > "
                         f"ls[{i + 1}] = {ls[i + 1]:g}")
    # np.linspace(-r, r, odd n) can miss 0 by a rounding error: snap such a point to 0
    i0 = int(np.argmin(np.abs(ls)))
    if abs(ls[i0]) > ZERO_TOL * (ls[-1] - ls[0]):
        raise ValueError("ls must contain l = 0 (the centre w); "
                         f"it spans [{ls[0]:g}, {ls[-1]:g}] and its closest point is {ls[i0]:g}")
    if ls[i0] != 0.0:
        ls = ls.copy()
        ls[i0] = 0.0
    if ls[0] >= 0 or ls[-1] <= 0:
        raise ValueError(f"ls must have points on both sides of 0, spans [{ls[0]:g}, {ls[-1]:g}]")
    bad = ~np.isfinite(y)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"losses contain NaN or infinite values ({int(bad.sum())} of them; "
                         f"first in curve {row} at l = {ls[col]:g})")
    return ls, y, single


def _out(x, single):
    return x[0] if single else x


def _reach(ls) -> float:
    """The largest radius sampled on both sides."""
    return float(min(-ls[0], ls[-1]))


def rises(ls, losses, window):
    """Δ− = L̂(w − window·u) − L̂(w) and Δ+ = L̂(w + window·u) − L̂(w), linearly
    interpolated between samples. Returns (Δ−, Δ+)."""
    ls, y, single = check_curve(ls, losses)
    if not 0 < window <= _reach(ls):
        raise ValueError(f"window {window:g} is outside the sampled range: it must be in "
                         f"(0, {_reach(ls):g}] for ls spanning [{ls[0]:g}, {ls[-1]:g}]")
    centre = y[:, np.flatnonzero(ls == 0.0)[0]]
    return _out(_interp(ls, y, -window) - centre, single), \
        _out(_interp(ls, y, window) - centre, single)


def _interp(ls, y, x):
    """Every curve's linear interpolant at x (inside the grid), in one vectorized step."""
    i = min(int(np.searchsorted(ls, x, side="right")) - 1, ls.size - 2)
    t = (x - ls[i]) / (ls[i + 1] - ls[i])
    return (1 - t) * y[:, i] + t * y[:, i + 1]


def rise_ratio(ls, losses, window):
    """Larger rise over smaller rise (≥ 1): 1 is symmetric. When the smaller rise is ≤ 0
    (the centre is not a minimum of the curve over the window) the ratio is +inf if the
    larger rise is > 0, and NaN if both are ≤ 0."""
    lo, hi = np.sort(np.stack(np.broadcast_arrays(*rises(ls, losses, window))), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), np.where(hi > 0, np.inf, np.nan))
    return r[()] if r.ndim == 0 else r


def flat_side(ls, losses, window):
    """+1 if the loss rises less towards +u over the window, −1 if towards −u, 0 on a tie."""
    dm, dp = rises(ls, losses, window)
    s = np.sign(np.asarray(dm) - np.asarray(dp)).astype(int)
    return s[()] if s.ndim == 0 else s


def slopes(ls, losses):
    """Finite-difference slopes of the curve: (midpoints of the segments (n−1,), slopes
    (n−1,) or (m, n−1)). The slope of segment i is the derivative of the interpolant on
    (l_i, l_{i+1})."""
    ls, y, single = check_curve(ls, losses)
    s = np.diff(y, axis=1) / np.diff(ls)
    return (ls[:-1] + ls[1:]) / 2, _out(s, single)


def _window(ls, r_inner, r_outer):
    if not 0 <= r_inner < r_outer:
        raise ValueError(f"need 0 <= r_inner < r_outer, got r_inner={r_inner:g}, "
                         f"r_outer={r_outer:g}")
    if r_outer > _reach(ls):
        raise ValueError(f"window (r_inner, r_outer) = ({r_inner:g}, {r_outer:g}) is outside the "
                         f"sampled range: r_outer must be <= {_reach(ls):g} for ls spanning "
                         f"[{ls[0]:g}, {ls[-1]:g}]")
    a, b = ls[:-1], ls[1:]
    plus = (a >= 0) & (b > r_inner) & (a < r_outer)        # segments of l ∈ (r̄, r)
    minus = (b <= 0) & (-a > r_inner) & (-b < r_outer)     # segments of −l ∈ (r̄, r)
    return plus, minus


@dataclass(frozen=True)
class SideSlopes:
    """Extreme derivatives of the interpolant over l ∈ (r̄, r), for both orientations.

    For orientation s (+1 or −1, the flat side being w + s·l·u):
    flat_max[s]  = sup of d/dl L̂(w + s·l·u), sharp_min[s] = inf of d/dl L̂(w − s·l·u).
    Arrays have shape (m,) (or are scalars for one curve)."""
    flat_max_pos: np.ndarray    # orientation +1
    sharp_min_pos: np.ndarray
    flat_max_neg: np.ndarray    # orientation −1
    sharp_min_neg: np.ndarray

    def get(self, flat: int):
        if flat == 1:
            return self.flat_max_pos, self.sharp_min_pos
        if flat == -1:
            return self.flat_max_neg, self.sharp_min_neg
        raise ValueError(f"flat must be +1 or -1, not {flat!r}")


def side_slopes(ls, losses, r_inner, r_outer) -> SideSlopes:
    """The four extreme slopes that decide Definition 1 on the window (r̄, r)."""
    ls, y, single = check_curve(ls, losses)
    plus, minus = _window(ls, r_inner, r_outer)
    s = np.diff(y, axis=1) / np.diff(ls)
    sp, sm = s[:, plus], s[:, minus]      # d/dl L̂(w + l u) on each side's segments
    # d/dl L̂(w − l u) at l is minus the curve's slope at −l
    return SideSlopes(_out(sp.max(1), single), _out((-sm).min(1), single),
                      _out((-sm).max(1), single), _out(sp.min(1), single))


def _check_pc(p, c):
    if not p > 0:
        raise ValueError(f"Definition 1 needs p > 0, got p={p!r}")
    if not c > 1:
        raise ValueError(f"Definition 1 needs c > 1, got c={c!r}")


def asymmetric_side(ls, losses, r_inner, r_outer, p, c):
    """Which orientation makes u (r̄, r, p, c)-asymmetric: +1 (flat side w + l·u, sharp side
    w − l·u, as written in Definition 1), −1 (the same for −u), or 0 (neither)."""
    _check_pc(p, c)
    ss = side_slopes(ls, losses, r_inner, r_outer)
    out = []
    for flat in (1, -1):
        fmax, smin = ss.get(flat)
        out.append(flat * ((np.asarray(fmax) < p) & (np.asarray(smin) > c * p)).astype(int))
    side = out[0] + out[1]          # at most one is non-zero for c > 1
    return side[()] if side.ndim == 0 else side


def is_asymmetric(ls, losses, r_inner, r_outer, p, c, flat=None):
    """Definition 1 on the sampled curve: for all l ∈ (r̄, r) (r̄ = r_inner, r = r_outer),
    d/dl L̂(w + f·l·u) < p on the flat side and d/dl L̂(w − f·l·u) > c·p on the sharp side,
    with f = `flat` (+1: as written; −1: the direction reversed; None: either)."""
    side = np.asarray(asymmetric_side(ls, losses, r_inner, r_outer, p, c))
    if flat is None:
        res = side != 0
    elif flat in (1, -1):
        res = side == flat
    else:
        raise ValueError(f"flat must be +1, -1 or None, not {flat!r}")
    return res[()] if res.ndim == 0 else res


def _largest(fmax, smin):
    fmax, smin = np.asarray(fmax, float), np.asarray(smin, float)
    pos = fmax > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(pos, smin / np.where(pos, fmax, 1.0), np.where(smin > 0, np.inf, np.nan))
    return c, np.where(np.isnan(c), np.nan, np.maximum(fmax, 0.0))


def largest_c(ls, losses, r_inner, r_outer, flat=None):
    """The supremum of the c for which some p > 0 makes the direction (r̄, r, p, c)-asymmetric,
    and that p: c* = sharp_min / flat_max with p = flat_max (any c < c* works with p slightly
    above flat_max; c* itself is reached only where the extreme slopes are not attained).

    flat_max ≤ 0 (the loss does not rise on the flat side) gives c* = inf, p = 0 when the sharp
    side rises, and NaN otherwise. c* ≤ 1 means the direction is not asymmetric on (r̄, r).
    With flat=None the orientation with the larger c* is used; see `largest_c_side`.
    Returns (c, p)."""
    c, p, _ = largest_c_side(ls, losses, r_inner, r_outer, flat)
    return c, p


def largest_c_side(ls, losses, r_inner, r_outer, flat=None):
    """Like `largest_c`, also returning the orientation used (+1 or −1). Returns (c, p, flat)."""
    ss = side_slopes(ls, losses, r_inner, r_outer)
    flats = (1, -1) if flat is None else (flat,)
    cands = [(*_largest(*ss.get(f)), f) for f in flats]
    if len(cands) == 1:
        c, p, f = cands[0]
        side = np.full(np.shape(c), f)
    else:
        (c1, p1, _), (c2, p2, _) = cands
        take2 = np.nan_to_num(c2, nan=-np.inf) > np.nan_to_num(c1, nan=-np.inf)
        c, p, side = np.where(take2, c2, c1), np.where(take2, p2, p1), np.where(take2, -1, 1)
    return tuple(x[()] if np.ndim(x) == 0 else x for x in (c, p, side))


def measure(ls, losses, window, r_inner=None, r_outer=None) -> dict:
    """Everything at once for many curves (a dict of arrays, ready for a DataFrame):
    rises, ratio and flat side over `window`; and, when (r_inner, r_outer) is given, the
    largest c with its p and orientation."""
    dm, dp = rises(ls, losses, window)
    out = {"rise_minus": dm, "rise_plus": dp, "ratio": rise_ratio(ls, losses, window),
           "flat_side": flat_side(ls, losses, window)}
    if r_inner is not None:
        c, p, f = largest_c_side(ls, losses, r_inner, r_outer)
        out.update(largest_c=c, p=p, c_flat_side=f)
    return out


def quantile(x, q):
    """Quantiles that are sample values (the inverted CDF), so infinite ratios stay infinite
    instead of turning into NaN by interpolation; NaNs are left out. NaN if nothing is left."""
    x = np.asarray(x, dtype=float).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0:
        return np.full(np.shape(q), np.nan)[()]
    return np.quantile(x, q, method="inverted_cdf")


def summary(ls, losses, window, ratio_threshold=2.0, r_inner=None, r_outer=None, p=None,
            c=None) -> dict:
    """Statistics of m curves that share a grid (e.g. m random directions through one point):

    n; median, q25, q75 of the rise ratio over `window` (sample quantiles, see `quantile`;
    curves whose ratio is NaN, both rises ≤ 0, are left out of them);
    frac_ratio: fraction with ratio ≥ ratio_threshold (infinite counts, NaN does not);
    frac_valley: both rises > 0 (the centre is a minimum of the curve over the window);
    frac_flat_plus: flat side +u; frac_undefined: ratio NaN.
    With (r_inner, r_outer): median_largest_c and, with c, frac_some_p (Definition 1 holds
    with this c for some p > 0, i.e. largest c > c); with p and c as well, frac_definition1
    (Definition 1 holds for (r_inner, r_outer, p, c) in either orientation).
    Fractions are over all m curves."""
    m = measure(ls, np.atleast_2d(losses), window, r_inner, r_outer)
    ratio = np.asarray(m["ratio"], dtype=float)
    q25, med, q75 = quantile(ratio, [0.25, 0.5, 0.75])
    out = {"n": int(ratio.size), "median": float(med), "q25": float(q25), "q75": float(q75),
           "frac_ratio": float(np.mean(np.nan_to_num(ratio, nan=-np.inf) >= ratio_threshold)),
           "frac_valley": float(np.mean((m["rise_minus"] > 0) & (m["rise_plus"] > 0))),
           "frac_flat_plus": float(np.mean(m["flat_side"] == 1)),
           "frac_undefined": float(np.mean(np.isnan(ratio)))}
    if r_inner is not None:
        lc = np.asarray(m["largest_c"], dtype=float)
        out["median_largest_c"] = float(quantile(lc, 0.5))
        if c is not None:
            out["frac_some_p"] = float(np.mean(np.nan_to_num(lc, nan=-np.inf) > c))
            if p is not None:
                side = asymmetric_side(ls, np.atleast_2d(losses), r_inner, r_outer, p, c)
                out["frac_definition1"] = float(np.mean(np.asarray(side) != 0))
    return out
