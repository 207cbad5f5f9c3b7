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

Notation as on the slides: r̄ is the inner radius (it excludes the bottom of the valley), r
the outer radius; the window of Definition 1 is l ∈ (r̄, r) on each side.

Measurements that can fail. Definition 1 alone lets non-valleys through: it never asks that
the centre be a minimum, a flat side whose derivative is ≤ 0 satisfies "derivative < p" for
every p (an infinite largest c), and a side that has collapsed to the chance-level loss has
a small slope and passes as flat. `definition1_status` adds those guards and says, per
curve, why a curve is or is not counted. Windows fixed in units of l (or of |w|) can end
where one side is unbounded and the other at chance, so that a ratio measures the window;
`level_windows` ends each side's window where the loss first reaches a level set by the
loss itself, between the centre's loss and chance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_POINTS = 3   # one segment on each side of l = 0, at least
ZERO_TOL = 1e-9  # a step within this fraction of the span from 0 is the centre l = 0
# Two steps closer than this fraction of the span make a segment whose slope is rounding
# noise (a loss of order 1 is known to ~1e-16; over a segment of ~1e-19 its slope is noise).
# Every grid of the book is far coarser: the level search's finest step is ~1e-7 of its reach.
SPACING_TOL = 1e-12

# ---- the book's thresholds: every chapter uses these ------------------------------------
# A direction is asymmetric when its ratio (sharp side over flat side: rise, distance or
# slope ratio) is at least this. Definition 1 then holds with c = ASYMMETRY_RATIO.
ASYMMETRY_RATIO = 2.0
# Windows set by the loss end where it has risen this fraction of the way from the centre's
# loss L(0) to the chance level: far from the bottom, well before the chance plateau.
LEVEL_FRACTION = 0.5
# Levels at which a chapter shows that a verdict does not hang on the choice of one.
LEVEL_FRACTIONS = (0.25, 0.5, 0.75)
# The centre counts as a minimum when nothing in the window lies more than VALLEY_TOL times
# the height of the lower wall below it (see `definition1_status` for why 5%).
VALLEY_TOL = 0.05
# A side is saturated once its loss reaches this fraction of the chance-level loss.
CEILING_FRACTION = 0.9

# Statuses of `definition1_status`, in the order in which they are decided.
NOT_A_VALLEY = "not a valley"
SATURATED = "saturated"
FLAT_DESCENDS = "flat side descends"
ASYMMETRIC = "asymmetric"
NOT_ASYMMETRIC = "not asymmetric"
STATUSES = (NOT_A_VALLEY, SATURATED, FLAT_DESCENDS, ASYMMETRIC, NOT_ASYMMETRIC)

# Statuses and verdicts of `level_windows`.
MEASURED = "measured"
LOWER_BOUND = "lower bound"
UNDETERMINED = "undetermined"
NOT_REACHED = "level not reached"
AT_CHANCE = "centre at chance"
LEVEL_STATUSES = (AT_CHANCE, NOT_A_VALLEY, NOT_REACHED, UNDETERMINED, LOWER_BOUND, MEASURED)
INCONCLUSIVE = "inconclusive"
EXCLUDED = "excluded"
VERDICTS = (ASYMMETRIC, NOT_ASYMMETRIC, INCONCLUSIVE, EXCLUDED)


def chance_loss(n_classes: int) -> float:
    """The cross-entropy of a uniform prediction over n_classes balanced classes: ln K
    (2.303 for ten classes, ln 2 = 0.693 for a binary problem)."""
    if int(n_classes) != n_classes or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    return float(np.log(n_classes))


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
    close = d < SPACING_TOL * (ls[-1] - ls[0])
    if np.any(close):
        i = int(np.argmax(close))
        raise ValueError(f"ls has two steps closer than {SPACING_TOL:g} of its span, "
                         f"{ls[i]!r} and {ls[i + 1]!r} (indices {i} and {i + 1}): the slope "
                         "between them would be rounding noise")
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
    larger rise is > 0, and NaN if both are ≤ 0. A fixed window can end where one side is
    at chance and the other far beyond it; then the ratio measures the window, not the
    valley: `level_windows` sets the window by the loss instead."""
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
    Unguarded: it neither asks that the centre be a minimum nor looks for a side at chance;
    `definition1_status` does. Returns (c, p)."""
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


# ---- Definition 1 with its guards --------------------------------------------------------


def _extremes(ls, y, r_outer):
    """Per curve, on [−r, 0] and on [0, r]: the interpolant's highest and lowest values (an
    interpolant's extremes lie at samples or at the ends ±r). Returns (top−, top+, low−, low+)."""
    ends = [_interp(ls, y, x)[:, None] for x in (-r_outer, r_outer)]
    sides = [np.concatenate([y[:, (ls <= 0) & (ls >= -r_outer)], ends[0]], 1),
             np.concatenate([y[:, (ls >= 0) & (ls <= r_outer)], ends[1]], 1)]
    return sides[0].max(1), sides[1].max(1), sides[0].min(1), sides[1].min(1)


def _which(minus, plus):
    """+1 where only the plus side has the property, −1 where only the minus side, 0 both."""
    return np.where(minus & plus, 0, np.where(plus, 1, -1))


def definition1_status(ls, losses, r_inner, r_outer, c=ASYMMETRY_RATIO, p=None, *,
                       chance=None, tol=VALLEY_TOL, ceiling=CEILING_FRACTION) -> dict:
    """Definition 1 as the paper means it: an asymmetric direction *of a valley*, judged on
    the window l ∈ (r̄, r) (r̄ = r_inner, the inner radius; r = r_outer, the outer radius).

    Each curve gets exactly one status, decided in this order (the first that applies):

    - "not a valley": the centre is not a minimum of the sampled curve on [−r, r]: the
      interpolant's lowest value there, L_low, lies more than tol·H below L(0), where H is
      the height of the lower wall, min over both sides of (highest loss on [0, r] on that
      side) − L(0). H ≤ 0 (a side never above L(0)) leaves no tolerance.
    - "saturated" (only with `chance`): on some side the loss reaches the ceiling
      `ceiling`·chance within [−r, r]; the window reaches where the network predicts no
      better than chance (or worse), so its slopes describe the collapse, not the valley.
      A side sitting at chance has a small slope and would otherwise pass as flat.
    - "flat side descends": on a side the loss nowhere rises over (r̄, r) (every grid
      segment there has slope ≤ 0). Definition 1's "derivative < p" holds for every p > 0,
      so the largest c is infinite; this is not counted as asymmetric.
    - "asymmetric": with p=None, the largest c (see `largest_c`) exceeds c, i.e. some p > 0
      makes the direction (r̄, r, p, c)-asymmetric; with p given, it is (r̄, r, p, c)-
      asymmetric for that p. In the orientation of `side`.
    - "not asymmetric": otherwise.

    Default tolerance VALLEY_TOL = 0.05. A network's loss is evaluated on finite data at a
    centre that is an SGD iterate (or an average of iterates), not an exact minimizer, so
    along a random direction the lowest sample is rarely exactly at l = 0; requiring
    L_low = L(0) would reject valleys for differences no measurement can feel. A dip of at
    most 5% of the lower wall cannot change a verdict: where each side rises to its end of
    the window, rises measured from L(0) instead of from the bottom change a ratio of rises
    by a factor of at most 1 + tol, so a ratio of 2 from the centre is at least 1.9 from the
    bottom. The tolerance is relative (not in loss
    units), so it does not depend on the dataset, the loss's scale or the training stage.

    Default ceiling CEILING_FRACTION = 0.9 of `chance` (ln K for K balanced classes, see
    `chance_loss`): a loss of 0.9·ln K means the true class gets on average a probability of
    about K^-0.9 (0.13 for K = 10, against 0.1 at chance), so the network has all but lost
    what it learned; the paper's own curves stay below it (DenseNet-100 on CIFAR-10 reaches
    2.0 < 2.07 at l = −9). chance=None skips this guard: use it for losses that pass through
    chance without a plateau (the toy neuron's BCE grows without bound on a misclassifying
    side).

    Returns a dict of arrays of shape (m,) (scalars for one curve):
    status (str); side: for "asymmetric"/"not asymmetric" the flat side in the orientation
    with the larger c (+1: w + l·u); for "flat side descends" the side that does not rise;
    for "saturated" the side that reaches the ceiling; for "not a valley" the side of the
    lowest point (0 where both sides qualify); largest_c and p: the supremum c and its p
    for "asymmetric" and "not asymmetric" curves (finite there), NaN for the others;
    dip = L(0) − L_low (≥ 0) and wall = H."""
    ls, y, single = check_curve(ls, losses)
    _window(ls, r_inner, r_outer)                       # validates (r̄, r)
    if p is None:
        if not c > 1:
            raise ValueError(f"Definition 1 needs c > 1, got c={c!r}")
    else:
        _check_pc(p, c)
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    if not 0 < ceiling <= 1:
        raise ValueError(f"ceiling is a fraction of the chance level in (0, 1], got {ceiling!r}")
    if chance is not None and not (np.isfinite(chance) and chance > 0):
        raise ValueError(f"chance must be a positive loss (ln K for K classes), got {chance!r}")
    centre = y[:, np.flatnonzero(ls == 0.0)[0]]
    top_m, top_p, low_m, low_p = _extremes(ls, y, r_outer)
    dip = centre - np.minimum(low_m, low_p)
    wall = np.minimum(top_m, top_p) - centre
    not_valley = dip > tol * np.maximum(wall, 0.0)
    if chance is None:
        sat_m = sat_p = np.zeros(len(y), bool)
    else:
        sat_m, sat_p = top_m >= ceiling * chance, top_p >= ceiling * chance
    ss = side_slopes(ls, y, r_inner, r_outer)
    # d/dl L̂(w + l·u) ≤ 0 all over (r̄, r) on the plus side; d/dl L̂(w − l·u) on the minus side
    desc_p, desc_m = ss.flat_max_pos <= 0, ss.flat_max_neg <= 0
    c_star, p_star, orient = largest_c_side(ls, y, r_inner, r_outer)
    if p is None:
        asym = c_star > c
    else:
        found = asymmetric_side(ls, y, r_inner, r_outer, p, c)
        asym, orient = found != 0, np.where(found != 0, found, orient)

    status = np.where(asym, ASYMMETRIC, NOT_ASYMMETRIC).astype(object)
    side = np.asarray(orient, dtype=int).copy()
    for mask, name, where in ((desc_p | desc_m, FLAT_DESCENDS, _which(desc_m, desc_p)),
                              (sat_p | sat_m, SATURATED, _which(sat_m, sat_p)),
                              (not_valley, NOT_A_VALLEY,
                               np.where(low_p < low_m, 1, np.where(low_m < low_p, -1, 0)))):
        status[mask], side[mask] = name, where[mask]
    counted = (status == ASYMMETRIC) | (status == NOT_ASYMMETRIC)
    out = {"status": status, "side": side,
           "largest_c": np.where(counted, c_star, np.nan),
           "p": np.where(counted, p_star, np.nan), "dip": dip, "wall": wall}
    return {k: _out(v, single) for k, v in out.items()}


def status_counts(status, names=STATUSES) -> dict:
    """{"n_<name>": count} for every name in `names` (spaces as underscores), zeros
    included, so a chapter can say how many curves were excluded and why. ValueError if a
    status is not among `names`."""
    st = np.asarray(status, dtype=object).ravel()
    unknown = set(st) - set(names)
    if unknown:
        raise ValueError(f"unknown status {sorted(unknown)}; known: {', '.join(names)}")
    return {"n_" + n.replace(" ", "_"): int(np.sum(st == n)) for n in names}


# ---- windows set by the loss ------------------------------------------------------------


def _crossing(xs, ys, level):
    """Where each curve first reaches each level going outward. xs (k,): distances from the
    centre, xs[0] = 0, increasing; ys (m, k) the losses there; level (m, q). Returns
    (distance, censored), each (m, q): the linearly interpolated distance of the first
    crossing, or xs[-1] (a lower bound) with censored=True where the level is not reached."""
    hit = ys[:, None, 1:] >= level[:, :, None]                  # (m, q, k − 1)
    reached = hit.any(-1)
    j = np.where(reached, np.argmax(hit, -1) + 1, 1)            # first sample at the level
    y0, y1 = np.take_along_axis(ys, j - 1, 1), np.take_along_axis(ys, j, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip((level - y0) / (y1 - y0), 0.0, 1.0)
    d = xs[j - 1] + t * (xs[j] - xs[j - 1])
    return np.where(reached, d, xs[-1]), ~reached


def level_windows(ls, losses, chance, fractions=LEVEL_FRACTION, *, threshold=ASYMMETRY_RATIO,
                  tol=VALLEY_TOL) -> dict:
    """Asymmetry on windows set by the loss, not by a fixed reach in l (or in units of |w|).

    For each curve and each fraction f in (0, 1): the level
    level = L(0) + f·(chance − L(0)) lies between the centre's loss and the chance level;
    on each side the window ends where the loss *first* reaches the level going outward
    from l = 0 (linear interpolation between samples). d− and d+ are the distances from the
    centre to those crossings; both sides rise by the same amount, so the ratio
    d_long / d_short (≥ 1) is also the ratio of the mean slopes, sharp over flat, and the
    flat side is the side with the longer window. Because the level is below chance, a
    window never reaches a chance plateau or an unbounded side beyond it.

    status per (curve, f), the first that applies:
    - "centre at chance": L(0) ≥ chance, no level lies above the centre;
    - "not a valley": the curve dips, inside its window [−d−, d+] (up to the scan's end on
      a side that does not reach the level), more than tol·(level − L(0)) below L(0)
      (the same rule and default as `definition1_status`);
    - "level not reached": neither side reaches the level within the scan;
    - "undetermined": one side does not reach it and the scan on that side ends before the
      other side's crossing, so which side is flatter is unknown;
    - "lower bound": one side does not reach the level; its distance is at least the scan's
      extent there, which already exceeds the other side's, so that side is flat and the
      true ratio is at least `ratio` (censored: a bound, not a measurement);
    - "measured": both sides reach the level; `ratio` is exact on the interpolant.
    ratio is NaN unless the status is "measured" or "lower bound"; flat_side is then +1/−1
    (0 on a tie) and 0 otherwise.

    verdict with the book's threshold: "asymmetric" if ratio ≥ threshold (a lower bound
    that reaches it is enough); "not asymmetric" if a measured ratio is below it;
    "inconclusive" for a lower bound below it, "undetermined" and "level not reached";
    "excluded" for "not a valley" and "centre at chance".

    `fractions` may be a scalar or a 1-D sequence (several levels at once, to show that a
    verdict does not hang on one choice). Returns a dict of arrays of shape (m, q), (q,) for
    one curve, (m,) for one fraction, scalars for both: fraction, level, d_minus, d_plus,
    censored_minus, censored_plus, ratio, flat_side, status, verdict, dip (= L(0) − the
    lowest loss in the window)."""
    ls, y, single = check_curve(ls, losses)
    f = np.asarray(fractions, dtype=float)
    one_f = f.ndim == 0
    f = np.atleast_1d(f)
    if f.ndim != 1 or f.size == 0 or not np.all((f > 0) & (f < 1)):
        raise ValueError(f"fractions must lie in (0, 1) (0: the centre's loss, 1: chance), "
                         f"got {fractions!r}")
    if not np.isfinite(chance):
        raise ValueError(f"chance must be a finite loss (ln K for K classes), got {chance!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    i0 = int(np.flatnonzero(ls == 0.0)[0])
    centre = y[:, i0][:, None]                                    # (m, 1)
    level = centre + f[None, :] * (chance - centre)               # (m, q)
    d_plus, cens_p = _crossing(ls[i0:], y[:, i0:], level)
    d_minus, cens_m = _crossing(-ls[i0::-1], y[:, i0::-1], level)
    inside = (ls >= -d_minus[..., None]) & (ls <= d_plus[..., None])        # (m, q, n)
    dip = centre - np.where(inside, y[:, None, :], np.inf).min(-1)
    at_chance = np.broadcast_to(centre >= chance, level.shape)

    status = np.full(level.shape, MEASURED, dtype=object)
    one = cens_p ^ cens_m
    censored_longer = np.where(cens_p, d_plus >= d_minus, d_minus >= d_plus)
    status[one & censored_longer] = LOWER_BOUND
    status[one & ~censored_longer] = UNDETERMINED
    status[cens_p & cens_m] = NOT_REACHED
    status[dip > tol * (level - centre)] = NOT_A_VALLEY
    status[at_chance] = AT_CHANCE
    has_ratio = (status == MEASURED) | (status == LOWER_BOUND)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(has_ratio, np.maximum(d_minus, d_plus) / np.minimum(d_minus, d_plus),
                         np.nan)
    flat = np.where(has_ratio, np.sign(d_plus - d_minus), 0).astype(int)
    verdict = np.full(level.shape, INCONCLUSIVE, dtype=object)
    verdict[has_ratio & (ratio >= threshold)] = ASYMMETRIC
    verdict[(status == MEASURED) & (ratio < threshold)] = NOT_ASYMMETRIC
    verdict[(status == NOT_A_VALLEY) | (status == AT_CHANCE)] = EXCLUDED

    def shape(x):
        x = x[0] if single else x
        return x[..., 0] if one_f else x
    out = {"level": level, "d_minus": d_minus, "d_plus": d_plus, "censored_minus": cens_m,
           "censored_plus": cens_p, "ratio": ratio, "flat_side": flat, "status": status,
           "verdict": verdict, "dip": dip}
    return {"fraction": f[0] if one_f else f, **{k: shape(v) for k, v in out.items()}}


def level_summary(ls, losses, chance, fractions=LEVEL_FRACTIONS, *, threshold=ASYMMETRY_RATIO,
                  tol=VALLEY_TOL) -> list:
    """One row per level fraction for m curves sharing a grid (a list of dicts, ready for a
    DataFrame): fraction, n, the count of every status and verdict of `level_windows`
    (n_measured, n_lower_bound, ..., n_asymmetric, n_not_asymmetric, n_inconclusive,
    n_excluded), median_ratio over the curves with a ratio (measured or lower bound; sample
    median, see `quantile`) and median_is_bound: True when lower bounds entered the median,
    which is then itself a lower bound (raising values never lowers a median)."""
    fr = np.atleast_1d(np.asarray(fractions, dtype=float))
    w = level_windows(ls, np.atleast_2d(losses), chance, fr, threshold=threshold, tol=tol)
    rows = []
    for k, f in enumerate(fr):
        st, r = w["status"][:, k], w["ratio"][:, k]
        rows.append({"fraction": float(f), "n": int(st.size),
                     **status_counts(st, LEVEL_STATUSES),
                     **status_counts(w["verdict"][:, k], VERDICTS),
                     "median_ratio": float(quantile(r, 0.5)),
                     "median_is_bound": bool(np.any(st == LOWER_BOUND))})
    return rows


def measure(ls, losses, window, r_inner=None, r_outer=None, *, c=ASYMMETRY_RATIO, p=None,
            chance=None, tol=VALLEY_TOL, ceiling=CEILING_FRACTION) -> dict:
    """Everything at once for many curves (a dict of arrays, ready for a DataFrame):
    rises, ratio and flat side over `window` (a fixed reach: it may end at chance or beyond,
    see `level_windows` for windows set by the loss); and, when (r_inner, r_outer) is given,
    the largest c with its p and orientation (largest_c, p, c_flat_side: raw, inf for a
    flat side that does not rise) and the guarded verdict of `definition1_status` with
    (c, p, chance, tol, ceiling) (status, status_side)."""
    dm, dp = rises(ls, losses, window)
    out = {"rise_minus": dm, "rise_plus": dp, "ratio": rise_ratio(ls, losses, window),
           "flat_side": flat_side(ls, losses, window)}
    if r_inner is not None:
        c_star, p_star, f = largest_c_side(ls, losses, r_inner, r_outer)
        out.update(largest_c=c_star, p=p_star, c_flat_side=f)
        st = definition1_status(ls, losses, r_inner, r_outer, c, p, chance=chance, tol=tol,
                                ceiling=ceiling)
        out.update(status=st["status"], status_side=st["side"])
    return out


def quantile(x, q):
    """Quantiles that are sample values (the inverted CDF), so infinite ratios stay infinite
    instead of turning into NaN by interpolation; NaNs are left out. NaN if nothing is left."""
    x = np.asarray(x, dtype=float).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0:
        return np.full(np.shape(q), np.nan)[()]
    return np.quantile(x, q, method="inverted_cdf")


def summary(ls, losses, window, ratio_threshold=ASYMMETRY_RATIO, r_inner=None, r_outer=None,
            p=None, c=None, *, chance=None, tol=VALLEY_TOL, ceiling=CEILING_FRACTION) -> dict:
    """Statistics of m curves that share a grid (e.g. m random directions through one point):

    n; median, q25, q75 of the rise ratio over `window` (sample quantiles, see `quantile`;
    curves whose ratio is NaN, both rises ≤ 0, are left out of them);
    frac_ratio: fraction with ratio ≥ ratio_threshold (infinite counts, NaN does not);
    frac_valley: both rises > 0 (the centre is a minimum of the curve over the window);
    frac_flat_plus: flat side +u; frac_undefined: ratio NaN.
    With (r_inner, r_outer): median_largest_c and, with c, frac_some_p (Definition 1 holds
    with this c for some p > 0, i.e. largest c > c); with p and c as well, frac_definition1
    (Definition 1 holds for (r_inner, r_outer, p, c) in either orientation).
    With (r_inner, r_outer), also the guarded verdicts of `definition1_status` (with c, or
    ASYMMETRY_RATIO when c is None, and p only when c is given; chance, tol, ceiling as
    there): n_not_a_valley, n_saturated, n_flat_side_descends, n_asymmetric,
    n_not_asymmetric (they add up to n), and median_largest_c_counted, the median largest c
    over the curves counted as "asymmetric" or "not asymmetric".
    Fractions are over all m curves."""
    m = measure(ls, np.atleast_2d(losses), window, r_inner, r_outer,
                c=ASYMMETRY_RATIO if c is None else c, p=None if c is None else p,
                chance=chance, tol=tol, ceiling=ceiling)
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
        st = np.asarray(m["status"], dtype=object)
        out.update(status_counts(st))
        counted = (st == ASYMMETRIC) | (st == NOT_ASYMMETRIC)
        out["median_largest_c_counted"] = float(quantile(lc[counted], 0.5))
        if c is not None:
            out["frac_some_p"] = float(np.mean(np.nan_to_num(lc, nan=-np.inf) > c))
            if p is not None:
                side = asymmetric_side(ls, np.atleast_2d(losses), r_inner, r_outer, p, c)
                out["frac_definition1"] = float(np.mean(np.asarray(side) != 0))
    return out


# ---- what the guards catch: four curves with a known answer ------------------------------

GUARD_WINDOW = (1.0, 3.0)       # (r̄, r) of the examples
GUARD_CHANCE = float(np.log(10))  # their chance level: ten classes
_GUARD_KNOTS = (
    # name, knots l, knots loss, the status Definition 1 with its guards must give
    ("asymmetric valley (control)", (-4.0, 0.0, 4.0), (1.6, 0.0, 0.4), ASYMMETRIC),
    ("centre off the minimum (lowest at l = -1)", (-4.0, -1.0, 4.0), (1.2, 0.0, 0.5),
     NOT_A_VALLEY),
    ("flat side rises, then descends", (-4.0, 0.0, 1.0, 4.0), (1.6, 0.0, 0.1, 0.04),
     FLAT_DESCENDS),
    ("one side collapses to chance", (-4.0, 0.0, 0.5625, 4.0), (1.6, 0.0, 2.25, 2.284),
     SATURATED),
)


def guard_examples(ls) -> list:
    """Four piecewise-linear curves on the grid ls (within [−4, 4]) that the unguarded
    Definition 1 all calls asymmetric on (r̄, r) = GUARD_WINDOW with a largest c of at least
    4, and the status that `definition1_status` (with chance = GUARD_CHANCE) must give:
    one real asymmetric valley, and one curve for each guard. Returns a list of
    (name, losses (n,), expected status)."""
    ls = np.asarray(ls, dtype=float)
    if ls.ndim != 1 or ls[0] < -4.0 or ls[-1] > 4.0:
        raise ValueError(f"ls must be a 1-D grid inside [-4, 4], got [{ls[0]:g}, {ls[-1]:g}]")
    return [(name, np.interp(ls, kl, ky), status) for name, kl, ky, status in _GUARD_KNOTS]
