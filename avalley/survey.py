"""Surveys of many random directions through trained networks: scan batching, direction
statistics, and the window rule that turns a direction's curve into one asymmetry number and
a network's directions into one number per network (the unit of `avalley.verdicts`).

Scan batching (`scan_directions`): the training loss along m directions on one shared grid of
steps, several directions per call of the landscape engine (each row of the engine's
coordinates moves along one direction only), with the centre evaluated once per call.
Steps are in units of each direction's own length scale (`unit`), e.g. |w|, the norm of the
weights the direction moves, so one grid serves networks of any size.

The grid (`geometric_steps`): evenly spaced on a log scale on each side, from reach/span to
reach, plus the centre, so that the distance at which a loss level is reached is located to
the same relative precision whether it is small (the steep side) or large (the flat side).

Direction statistics (`geometry`): each direction's cosine with the all-ones vector (a
U(0, 1) direction's is about √3/2 ≈ 0.87 in any dimension: they are all close to one
direction), its sign agreement with the weights (Li et al. 2024), and the pairwise cosines
between the directions, which say whether they can count as independent samples.

The window rule (`level_ratios`, `network_value`): a direction's window on each side ends
where the training loss first reaches a level between the centre's loss and chance
(`asymmetry.level_windows`); its asymmetry is the log of the ratio of the two window
lengths, which can no longer come from a ceiling or an unbounded side. A network's value is
the median of its directions' log ratios: directions drawn for one network are not
independent units of a claim about networks, the training seeds are.

Definition 1 (`definition1_windows`): the paper's definition with the guards of
`asymmetry.definition1_status`, on a window (r̄, r) set by the loss as well: r̄ and r are
where the steeper side first reaches two levels.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import asymmetry, landscape
from .directions import Direction, flat_params, pairwise_cosines, sign_agreement, subset_mask

# A network's median needs a ratio (measured, or a lower bound) for at least this share of
# its directions; otherwise the network has no value, and says why.
MIN_SHARE = 0.5
# Statuses of `definition1_windows` beyond those of `asymmetry.definition1_status`.
NO_WINDOW = "no window"
DEF1_STATUSES = (NO_WINDOW, *asymmetry.STATUSES)


# ---- the grid ------------------------------------------------------------------------------


def geometric_steps(reach: float, n_side: int, span: float) -> np.ndarray:
    """2·n_side + 1 sorted steps: 0 and ±reach·span^(−k/(n_side − 1)), k = 0 … n_side − 1,
    i.e. n_side points per side evenly spaced on a log scale from reach/span to reach
    (consecutive points a factor span^(1/(n_side − 1)) apart). n_side = 1 gives −reach, 0,
    reach."""
    if not reach > 0 or n_side < 1 or not span >= 1 or (n_side > 1 and span == 1):
        raise ValueError(f"need reach > 0, n_side >= 1 and span > 1 (span 1 only with "
                         f"n_side 1); got reach={reach!r}, n_side={n_side!r}, span={span!r}")
    side = reach * span ** (-np.arange(n_side) / max(n_side - 1, 1))
    return np.concatenate([-side, [0.0], side[::-1]])


def grid_ratio(steps) -> float:
    """The factor between consecutive positive steps of a geometric grid (the largest, for
    another grid): the relative precision with which a crossing is bracketed."""
    pos = np.asarray(steps, float)
    pos = pos[pos > 0]
    return float(np.max(pos[1:] / pos[:-1])) if pos.size > 1 else float("inf")


# ---- scan batching -------------------------------------------------------------------------


def evaluate_along(model, dirs: list[Direction], offsets, train, *, bn_mode: str = "recompute",
                   bn_batch: int = 128, bn_data=None, centre: bool = True,
                   max_floats: float = 5e7) -> tuple[float | None, list[np.ndarray], int]:
    """The training loss at w + l·u_i for every distance l in offsets[i] (one array per
    direction; l is a plain distance, u_i has unit length), and at the centre w when
    `centre`, with the landscape engine (`landscape.points`: exact fp32, the BN mode
    explicit, `bn_data` the images the recompute mode re-estimates BN on).

    Several directions share one engine call (their vectors together at most `max_floats`
    numbers): every point moves along one direction only, and the centre is evaluated once,
    in the first call. Only the training loss is computed (the engine's test pass gets a
    single image). Returns (the centre's loss or None, [losses per direction], calls)."""
    if not dirs:
        raise ValueError("evaluate_along() needs at least one direction")
    offsets = [np.asarray(o, dtype=float).ravel() for o in offsets]
    if len(offsets) != len(dirs):
        raise ValueError(f"{len(dirs)} directions but {len(offsets)} arrays of offsets")
    per_call = max(1, int(max_floats // dirs[0].vec.numel()))
    one = (train[0][:1], train[1][:1])
    out, centre_loss, calls = [np.empty(0)] * len(dirs), None, 0
    todo = [i for i in range(len(dirs)) if offsets[i].size]
    groups = [todo[a:a + per_call] for a in range(0, len(todo), per_call)] or [[]]
    for g, group in enumerate(groups):
        lead = 1 if centre and g == 0 else 0
        n = lead + sum(offsets[i].size for i in group)
        if n == 0:
            continue
        k = max(1, len(group))
        coords, row = np.zeros((n, k)), lead
        for col, i in enumerate(group):
            coords[row:row + offsets[i].size, col] = offsets[i]
            row += offsets[i].size
        chosen = [dirs[i] for i in group] or [dirs[0]]
        sc = landscape.points(model, chosen, coords, train, one, bn_mode=bn_mode,
                              bn_batch=bn_batch, bn_data=bn_data)
        calls += 1
        if lead:
            centre_loss = float(sc.train_loss[0])
        row = lead
        for i in group:
            out[i] = sc.train_loss[row:row + offsets[i].size].copy()
            row += offsets[i].size
    return centre_loss, out, calls


@dataclass
class DirectionScan:
    """The training loss along m directions: curves[i] = (steps_i, losses_i) with
    losses_i[j] = L̂(w + steps_i[j]·units[i]·u_i), u_i of unit length, steps_i sorted and
    containing 0; every direction may have its own steps (`scan_levels`)."""
    curves: list               # [(steps (n_i,), losses (n_i,))], steps in `units`
    units: np.ndarray          # (m,) the length of one step unit along each direction
    centre: float              # L̂(w), in this BN mode
    calls: int                 # engine calls made
    points: int                # points evaluated, the centre included
    meta: dict = field(default_factory=dict)

    def on_grid(self):
        """(steps (n,), losses (m, n)) when every direction has the same steps; else error."""
        steps = self.curves[0][0]
        if any(c[0].shape != steps.shape or np.any(c[0] != steps) for c in self.curves):
            raise ValueError("the directions of this scan have different steps")
        return steps, np.stack([c[1] for c in self.curves])


def _meta(model, dirs, bn_mode, bn_batch, train, bn_data) -> dict:
    bn = landscape.has_bn(model)
    return {"bn_mode": bn_mode if bn else "none", "bn_batch": bn_batch,
            "n_train": len(train[0]),
            "n_bn": len(train[0] if bn_data is None else bn_data)
            if bn and bn_mode == "recompute" else 0,
            "directions": [d.meta for d in dirs]}


def scan_directions(model, dirs: list[Direction], steps, train, *, units=None,
                    bn_mode: str = "recompute", bn_batch: int = 128, bn_data=None,
                    max_floats: float = 5e7) -> DirectionScan:
    """The training loss along each direction at steps·unit (units: one per direction, 1 by
    default) on one shared grid `steps`, which must contain 0 (see `evaluate_along`)."""
    steps = np.asarray(steps, dtype=float)
    if steps.ndim != 1 or not np.any(steps == 0):
        raise ValueError("steps must be 1-D and contain the centre 0")
    units = _units(units, len(dirs))
    off = steps[steps != 0]
    c0, losses, calls = evaluate_along(model, dirs, [off * u for u in units], train,
                                       bn_mode=bn_mode, bn_batch=bn_batch, bn_data=bn_data,
                                       max_floats=max_floats)
    i0 = int(np.flatnonzero(steps == 0)[0])
    curves = [(steps, np.insert(y, i0, c0)) for y in losses]
    return DirectionScan(curves, units, c0, calls, 1 + off.size * len(dirs),
                         _meta(model, dirs, bn_mode, bn_batch, train, bn_data))


def _units(units, m):
    if m == 0:
        raise ValueError("a scan needs at least one direction")
    units = np.ones(m) if units is None else np.asarray(units, dtype=float)
    if units.shape != (m,) or not np.all(units > 0):
        raise ValueError(f"units must be {m} positive numbers, one per direction")
    return units


def lattice(reach: float, ratio: float, ks) -> np.ndarray:
    """The grid points reach·ratio^k for the integers k (k = 0 is the reach itself)."""
    return reach * float(ratio) ** np.asarray(ks, dtype=float)


def scan_levels(model, dirs: list[Direction], train, chance: float, *, units=None,
                reach: float = 1.0, ratio: float = 2 ** 0.5, start=(-4, 0), extra=(),
                fractions=asymmetry.LEVEL_FRACTIONS, max_rounds: int = 8,
                bn_mode: str = "recompute", bn_batch: int = 128, bn_data=None,
                max_floats: float = 5e7) -> DirectionScan:
    """Scan each direction until the loss-set windows are located on both sides.

    Distances (in units of `units`, one per direction) lie on the lattice reach·ratio^k,
    k integer, on both sides of the centre. Round 0 evaluates the centre and ±lattice(k)
    for k in range(start[0], start[1] + 1) (`start`: one pair for all directions, or one
    per direction), plus the lattice points `extra` (k values, e.g. a fixed window that must
    be on the grid) and every point between them, so that the lattice has no gaps. Then, in
    at most `max_rounds` further rounds (one engine call per round for all directions),
    each side of each direction gets
    - the next point outward while its highest loss is below the top level
      L(0) + max(fractions)·(chance − L(0)), so that every level is reached if it can be;
    - the next point inward while its innermost point is already at or above the lowest
      level, so that the first crossing lies between two lattice points and not between
      the centre and the first point.
    Every crossing of a level is then bracketed by two points a factor `ratio` apart (or by
    the centre and the first point, when `max_rounds` ran out); a side that never reaches a
    level is censored, which `asymmetry.level_windows` reports as a bound.
    Returns a DirectionScan whose curves have their own steps; meta['rounds'] is the number
    of rounds that evaluated something, meta['seconds'] the time the scan took."""
    t0 = time.time()
    units = _units(units, len(dirs))
    starts = [tuple(start)] * len(dirs) if np.ndim(start) == 1 else [tuple(x) for x in start]
    if len(starts) != len(dirs) or any(len(x) != 2 or x[0] > x[1] for x in starts):
        raise ValueError(f"start must be (k_lo, k_hi) with k_lo <= k_hi, or one such pair per "
                         f"direction; got {start!r}")
    if not ratio > 1 or max_rounds < 0:
        raise ValueError(f"need ratio > 1 and max_rounds >= 0; got {ratio!r}, {max_rounds!r}")
    fr = np.atleast_1d(np.asarray(fractions, dtype=float))
    extra = [int(k) for k in extra]
    # per direction and side (0: minus, 1: plus): the lattice indices wanted, and {k: loss}
    want = []
    for lo, hi in starts:
        ks0 = set(range(min([lo, *extra]), max([hi, *extra]) + 1))       # no gaps
        want.append([set(ks0), set(ks0)])
    have = [[{}, {}] for _ in dirs]
    top = low = None
    centre, calls, points, rounds = None, 0, 0, 0
    for rnd in range(max_rounds + 1):
        offsets, keys = [], []
        for i, sides in enumerate(want):
            ks = [(s, k) for s in (0, 1) for k in sorted(sides[s]) if k not in have[i][s]]
            keys.append(ks)
            offsets.append(np.array([(-1 if s == 0 else 1) * lattice(reach, ratio, k)
                                     * units[i] for s, k in ks]))
        if not any(o.size for o in offsets) and centre is not None:
            break
        c0, losses, n_calls = evaluate_along(model, dirs, offsets, train, bn_mode=bn_mode,
                                             bn_batch=bn_batch, bn_data=bn_data,
                                             centre=centre is None, max_floats=max_floats)
        centre = c0 if centre is None else centre
        calls, rounds = calls + n_calls, rounds + 1
        points += sum(o.size for o in offsets) + (1 if c0 is not None else 0)
        for i, ks in enumerate(keys):
            for (s, k), y in zip(ks, losses[i]):
                # an overflowed loss (inf, NaN) is above every level: see OVERFLOW
                have[i][s][k] = float(y) if math.isfinite(y) else math.inf
        top = centre + fr.max() * (chance - centre)
        low = centre + fr.min() * (chance - centre)
        for i in range(len(dirs)):
            for s in (0, 1):
                got = have[i][s]
                ks = sorted(got)
                if max(got.values()) < top:
                    want[i][s].add(ks[-1] + 1)                 # outward
                if got[ks[0]] >= low:
                    want[i][s].add(ks[0] - 1)                  # inward
    curves = []
    for i in range(len(dirs)):
        ks_m, ks_p = sorted(have[i][0]), sorted(have[i][1])
        steps = np.concatenate([-lattice(reach, ratio, ks_m[::-1]), [0.0],
                                lattice(reach, ratio, ks_p)])
        losses = np.array([have[i][0][k] for k in ks_m[::-1]] + [centre]
                          + [have[i][1][k] for k in ks_p])
        curves.append((steps, losses))
    meta = {**_meta(model, dirs, bn_mode, bn_batch, train, bn_data), "rounds": rounds,
            "reach": reach, "ratio": ratio, "fractions": fr.tolist(),
            "seconds": time.time() - t0}
    return DirectionScan(curves, units, centre, calls, points, meta)


# ---- direction statistics ------------------------------------------------------------------


def geometry(dirs: list[Direction], model, subset: str = "all") -> dict:
    """How the directions lie: per direction (arrays of shape (m,)) `cos_ones`, the cosine
    with the all-ones vector over the subset's entries, and `sign_agreement` with the
    weights (`directions.sign_agreement`); over the pairs, `pairs`, the summary of
    `directions.pairwise_cosines` (mean, std, min, max, participation ratio: the number of
    orthogonal directions the set effectively spans), None for a single direction."""
    mask = subset_mask(model, subset)
    n_sub = sum(p.numel() for n, p in model.named_parameters() if mask[n])
    cos_ones = np.array([float(d.vec.sum() / (d.vec.norm() * math.sqrt(n_sub))) for d in dirs])
    agree = np.array([sign_agreement(d, model, subset) for d in dirs], dtype=float)
    pairs = pairwise_cosines(dirs).summary() if len(dirs) > 1 else None
    return {"cos_ones": cos_ones, "sign_agreement": agree, "pairs": pairs}


def positive_share(model, subset: str = "all") -> float:
    """The fraction of the subset's nonzero weights that are positive: the sign agreement of
    every all-positive direction (U(0, 1)) with them."""
    mask = subset_mask(model, subset)
    w = torch.cat([p.detach().reshape(-1).float().cpu() for n, p in model.named_parameters()
                   if mask[n]])
    w = w[w != 0]
    return float((w > 0).double().mean()) if w.numel() else float("nan")


def weights_norm(model, subset: str = "all") -> float:
    """|w| over the subset: the unit of a scan whose reach is in units of the weights."""
    mask = subset_mask(model, subset)
    w, names = flat_params(model), [n for n, _ in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    keep = torch.cat([torch.full((s,), mask[n]) for n, s in zip(names, sizes)])
    return float(w[keep].norm())


# ---- the window rule -----------------------------------------------------------------------


# A loss that overflows fp32 (inf, or NaN from inf − inf in the logits: far along a direction
# through a deep net without BN) is above every level; it is kept as this finite number, so
# that a crossing towards it is placed at most one grid step early, never missed.
OVERFLOW = 1e30


def _finite(y) -> np.ndarray:
    y = np.asarray(y, float)
    return np.where(np.isfinite(y), y, OVERFLOW)


def _curves(curves):
    """A list of (steps, losses) pairs from a DirectionScan, a list of pairs, or a tuple
    (steps, losses) of one grid and an array of losses (1-D: one curve; 2-D: one per row);
    losses that overflowed become OVERFLOW."""
    if isinstance(curves, DirectionScan):
        return [(s, _finite(y)) for s, y in curves.curves]
    if isinstance(curves, tuple) and len(curves) == 2 and isinstance(curves[1], np.ndarray):
        steps = np.asarray(curves[0], float)
        return [(steps, _finite(y)) for y in np.atleast_2d(np.asarray(curves[1], float))]
    return [(np.asarray(s, float), _finite(y)) for s, y in curves]


def level_ratios(curves, chance, fractions=asymmetry.LEVEL_FRACTIONS) -> dict:
    """`asymmetry.level_windows` for m curves (a DirectionScan, a list of (steps, losses) or
    (steps, 2-D losses)) at q level fractions, with the log ratio: a dict of (m, q) arrays
    `log_ratio` (log of the level-window ratio, NaN where there is none), `bound` (True where
    it is a lower bound: one side never reached the level within the scan), `status`,
    `verdict`, `flat_side`, `d_minus`, `d_plus`, `censored_minus`, `censored_plus`, and
    `fractions` (q,)."""
    fr = np.atleast_1d(np.asarray(fractions, dtype=float))
    keys = ("ratio", "status", "verdict", "flat_side", "d_minus", "d_plus", "censored_minus",
            "censored_plus")
    rows = [asymmetry.level_windows(s, y, chance, fr) for s, y in _curves(curves)]
    w = {k: np.stack([r[k] for r in rows]) for k in keys}
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(w["ratio"].astype(float))
    return {"fractions": fr, "log_ratio": log_ratio,
            "bound": w["status"] == asymmetry.LOWER_BOUND,
            **{k: w[k] for k in keys if k != "ratio"}}


def network_value(log_ratio, bound, status, min_share: float = MIN_SHARE) -> dict:
    """One network's number from its directions at one level: the median of their log
    ratios (sample median, `asymmetry.quantile`) over the directions that have one.

    Returns value (NaN when fewer than `min_share` of the directions have a ratio, with the
    `reason`), is_bound (lower bounds entered the median, which is then itself a lower bound:
    raising values never lowers a median), share_asymmetric (the share of the directions
    with a ratio of at least ASYMMETRY_RATIO, of all of them), n and the count of every
    status of `asymmetry.level_windows` (n_measured, n_lower_bound, ...)."""
    lr = np.asarray(log_ratio, float).ravel()
    st = np.asarray(status, dtype=object).ravel()
    has = ~np.isnan(lr)
    counts = asymmetry.status_counts(st, asymmetry.LEVEL_STATUSES)
    out = {"n": int(lr.size), **counts,
           "share_asymmetric": float(np.mean(np.nan_to_num(lr, nan=-np.inf)
                                             >= math.log(asymmetry.ASYMMETRY_RATIO))),
           "is_bound": bool(np.any(np.asarray(bound).ravel()[has])), "reason": ""}
    if lr.size == 0 or has.sum() < min_share * lr.size:
        missing = {k[2:].replace("_", " "): v for k, v in counts.items()
                   if v and k not in ("n_measured", "n_lower_bound")}
        out["value"] = float("nan")
        out["reason"] = (f"only {int(has.sum())} of {lr.size} directions have a ratio ("
                         + ", ".join(f"{v} {k}" for k, v in missing.items()) + ")")
        return out
    out["value"] = float(asymmetry.quantile(lr[has], 0.5))
    return out


def definition1_windows(curves, chance, inner: float = asymmetry.LEVEL_FRACTIONS[0],
                        outer: float = asymmetry.LEVEL_FRACTION,
                        c: float = asymmetry.ASYMMETRY_RATIO) -> dict:
    """Definition 1 with its guards (`asymmetry.definition1_status`, chance given, so a side
    at chance is "saturated", not flat) on a window set by the loss for each curve:
    r̄ and r are where the steeper side (the shorter level window) first reaches the levels
    at fractions `inner` and `outer` of the way from L(0) to chance. Up to r neither side
    has passed the outer level, so the window ends before any ceiling.

    A curve whose steeper side does not reach the outer level within the scan, or whose
    window contains no grid segment on a side, gets the status "no window". Returns (m,)
    arrays: status (one of DEF1_STATUSES), largest_c (NaN unless counted), r_inner, r_outer
    (NaN without a window)."""
    if not 0 < inner < outer < 1:
        raise ValueError(f"need 0 < inner < outer < 1, got {inner!r}, {outer!r}")
    cs = _curves(curves)
    m = len(cs)
    status = np.full(m, NO_WINDOW, dtype=object)
    largest, r_in, r_out = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
    for i, (steps, y) in enumerate(cs):
        w = asymmetry.level_windows(steps, y, chance, [inner, outer])
        minus_short = w["d_minus"] <= w["d_plus"]
        a, b = np.where(minus_short, w["d_minus"], w["d_plus"])
        reached = not (w["censored_minus"] if minus_short[1] else w["censored_plus"])[1]
        if not (reached and w["status"][1] != asymmetry.AT_CHANCE and 0 <= a < b):
            continue
        plus = (steps[:-1] >= 0) & (steps[1:] > a) & (steps[:-1] < b)
        minus = (steps[1:] <= 0) & (-steps[:-1] > a) & (-steps[1:] < b)
        if not (plus.any() and minus.any()):
            continue
        st = asymmetry.definition1_status(steps, y, a, b, c, chance=chance)
        status[i], largest[i], r_in[i], r_out[i] = st["status"], st["largest_c"], a, b
    return {"status": status, "largest_c": largest, "r_inner": r_in, "r_outer": r_out}


def definition1_fixed(curves, chance, r_inner: float, r_outer: float,
                      c: float = asymmetry.ASYMMETRY_RATIO) -> dict:
    """Definition 1 with its guards on one fixed window (r̄, r) in the steps' units for every
    curve (the window a fixed reach gives; each curve must be sampled out to r): status and
    largest_c, (m,) arrays."""
    rows = [asymmetry.definition1_status(s, y, r_inner, r_outer, c, chance=chance)
            for s, y in _curves(curves)]
    return {"status": np.array([r["status"] for r in rows], dtype=object),
            "largest_c": np.array([r["largest_c"] for r in rows], dtype=float)}


def fixed_rise_ratios(curves, reach: float) -> np.ndarray:
    """The rise ratio at the fixed reach (`asymmetry.rise_ratio`) of every curve."""
    return np.array([asymmetry.rise_ratio(s, y, reach) for s, y in _curves(curves)], float)


def crossing_span(d_minus, d_plus, reach: float, ratio: float, default=(0, 0)) -> tuple:
    """The lattice indices (k_lo, k_hi), points reach·ratio^k, that bracket every crossing
    distance in d_minus and d_plus (arrays of any shape, as `level_ratios` gives them; a
    censored side's distance is its scan's extent): where the next scan of the same kind
    of direction should start. `default` when there is no positive finite distance."""
    d = np.concatenate([np.ravel(d_minus), np.ravel(d_plus)]).astype(float)
    d = d[np.isfinite(d) & (d > 0)]
    if d.size == 0:
        return tuple(default)
    k = np.log(d / reach) / math.log(ratio)
    eps = 1e-9                                   # a distance on the lattice is its own point
    return int(np.floor(k.min() + eps)), int(np.ceil(k.max() - eps))


def status_table(status, names=DEF1_STATUSES) -> dict:
    """{"n_<status>": count} for every status of `names` (zeros included)."""
    return asymmetry.status_counts(status, names)


# ---- tables for a chapter --------------------------------------------------------------------


def direction_rows(scan: DirectionScan, labels: list, chance: float,
                   fractions=asymmetry.LEVEL_FRACTIONS, fixed_reach: float | None = None) -> list:
    """One dict per direction of `scan`: its `labels` entry (recipe, seed, kind, ...), the
    curve (steps, loss, centre, chance), and for every level fraction f the keys lr_f (log
    ratio), bound_f, status_f, d_minus_f, d_plus_f, flat_f; Definition 1 on the windows set
    by the loss (def1, def1_c); with `fixed_reach`, also on the fixed window
    (reach/2, reach) (fixed_def1, fixed_def1_c), the rise ratio at ±reach (fixed_ratio) and
    the higher of the two losses there (fixed_top). Ready for a DataFrame."""
    if len(labels) != len(scan.curves):
        raise ValueError(f"{len(scan.curves)} curves but {len(labels)} labels")
    fr = np.atleast_1d(np.asarray(fractions, dtype=float))
    lv = level_ratios(scan, chance, fr)
    d1 = definition1_windows(scan, chance)
    if fixed_reach is not None:
        d1f = definition1_fixed(scan, chance, fixed_reach / 2, fixed_reach)
        fixed = fixed_rise_ratios(scan, fixed_reach)
    rows = []
    for i, ((steps, y), lab) in enumerate(zip(scan.curves, labels)):
        row = {**lab, "steps": steps, "loss": y, "centre": scan.centre, "chance": chance,
               "def1": d1["status"][i], "def1_c": d1["largest_c"][i]}
        if fixed_reach is not None:
            row.update(fixed_def1=d1f["status"][i], fixed_def1_c=d1f["largest_c"][i],
                       fixed_ratio=fixed[i],
                       fixed_top=float(np.max(np.interp([-fixed_reach, fixed_reach], steps, y))))
        for q, f in enumerate(fr):
            row.update({f"{k}_{f:g}": lv[v][i, q] for k, v in
                        (("lr", "log_ratio"), ("bound", "bound"), ("status", "status"),
                         ("d_minus", "d_minus"), ("d_plus", "d_plus"), ("flat", "flat_side"))})
        rows.append(row)
    return rows


def network_table(df, keys, fractions=asymmetry.LEVEL_FRACTIONS, unit: str = "seed"):
    """One row per network (the columns `keys` plus `unit`) and level fraction, from the rows
    of `direction_rows`: the fraction and `network_value` of its directions."""
    import pandas as pd
    rows = []
    for key, g in df.groupby([*keys, unit], sort=False):
        for f in np.atleast_1d(fractions):
            v = network_value(g[f"lr_{f:g}"], g[f"bound_{f:g}"], g[f"status_{f:g}"])
            rows.append({**dict(zip([*keys, unit], key)), "fraction": float(f), **v})
    return pd.DataFrame(rows)


def seed_values(table, fraction: float = asymmetry.LEVEL_FRACTION, unit: str = "seed",
                **select) -> dict:
    """{unit: value} of the rows of a `network_table` with this fraction and the columns in
    `select` equal to the given values (NaN where a network has no value)."""
    t = table[np.isclose(table["fraction"], fraction)]
    for col, v in select.items():
        t = t[t[col] == v]
    return dict(zip(t[unit], t["value"]))


def decide_values(values: dict, statistic: str, null: float = 0.0, expect: str = "above",
                  unit: str = "training seeds"):
    """`verdicts.decide` over the finite values of {unit: value}; `unmeasurable` with the
    reason when none is finite."""
    from . import verdicts
    ok = [v for v in values.values() if np.isfinite(v)]
    if not ok:
        return verdicts.unmeasurable(statistic, unit, "no network has a value", expect, null)
    return verdicts.decide(ok, expect, statistic, unit=unit, null=null)


def paired_values(a: dict, b: dict, statistic: str, expect: str = "above",
                  unit: str = "training seeds"):
    """`verdicts.paired` over the units where both {unit: value} are finite."""
    from . import verdicts
    both = [k for k in a if np.isfinite(a[k]) and np.isfinite(b.get(k, np.nan))]
    if not both:
        return verdicts.unmeasurable(statistic, unit, "no unit has both values", expect)
    return verdicts.paired([a[k] for k in both], [b[k] for k in both], expect, statistic, unit)


def draw_curve(ax, row: dict, fractions=asymmetry.LEVEL_FRACTIONS,
               main: float = asymmetry.LEVEL_FRACTION, colour: str = "C0") -> None:
    """One curve of `direction_rows` on `ax`: the sampled loss, the levels (dotted), chance
    (dashed) and the window set by the main level (shaded), zoomed on the windows."""
    ch, c0 = row["chance"], row["centre"]
    ax.plot(row["steps"], row["loss"], ".-", color=colour, lw=1.2, ms=3)
    for f in fractions:
        ax.axhline(c0 + f * (ch - c0), color="grey", lw=0.6, ls=":")
    ax.axhline(ch, color="k", lw=0.8, ls="--")
    ax.axvspan(-row[f"d_minus_{main:g}"], row[f"d_plus_{main:g}"], color="C2", alpha=0.2)
    top = max(fractions)
    span = 1.6 * max(row[f"d_minus_{top:g}"], row[f"d_plus_{top:g}"])
    ax.set(xlim=(-span, span), ylim=(0, 1.3 * ch))


def ratio_text(log_ratio: float, bound: bool) -> str:
    """A level-window ratio for a title: '1.52', '≥ 3.1' (a lower bound) or '—' (none)."""
    if not np.isfinite(log_ratio):
        return "—"
    return ("≥ " if bound else "") + f"{math.exp(log_ratio):.3g}"


def definition1_sentence(counts) -> str:
    """The counts of rows of `definition1_counts` in words: how many curves are excluded and
    why, how many have no window, how many count as asymmetric and not."""
    excluded = [asymmetry.NOT_A_VALLEY, asymmetry.SATURATED, asymmetry.FLAT_DESCENDS]
    n = {c: int(counts[c].sum()) for c in DEF1_STATUSES}
    return (f"{sum(n[c] for c in excluded)} of {sum(n.values())} curves are excluded ("
            + ", ".join(f"{n[c]} {c}" for c in excluded) + f"), {n[NO_WINDOW]} have no window, "
            f"{n[asymmetry.ASYMMETRIC]} count as asymmetric and {n[asymmetry.NOT_ASYMMETRIC]} "
            "as not asymmetric")


def definition1_counts(df, keys, first_seed):
    """Counts of the Definition 1 statuses of the rows of `direction_rows`, per group of
    `keys`: on the fixed window (the rows of `first_seed`, which carry it) and on the windows
    set by the loss (every row); one row per group and window, a column per status, and the
    median largest c over the counted curves (`asymmetry.largest_c`)."""
    import pandas as pd
    rows = []
    for key, g in df.groupby(list(keys), sort=False):
        lab = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        fx = g.loc[g["seed"] == first_seed, "fixed_def1"].dropna().to_numpy(object)
        fc = g.loc[g["seed"] == first_seed, "fixed_def1_c"].to_numpy(float) \
            if "fixed_def1_c" in g else np.full(len(fx), np.nan)
        for window, st, cs in (("fixed (first seed)", fx, fc),
                               ("set by the loss", g["def1"].to_numpy(object),
                                g["def1_c"].to_numpy(float))):
            counts = status_table(st)
            rows.append({**lab, "window": window,
                         **{k[2:].replace("_", " "): v for k, v in counts.items()},
                         "median largest c": float(asymmetry.quantile(cs, 0.5))})
    return pd.DataFrame(rows)


def ratio_axis(ax, threshold: float = asymmetry.ASYMMETRY_RATIO) -> None:
    """A log-scaled y axis for ratios with plain tick labels (1, 1.5, 2, 3, ...) and the
    book's threshold as a dashed line."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
    ax.set_yscale("log")
    ax.axhline(threshold, color="k", ls="--", lw=1)
    lo, hi = ax.get_ylim()
    ticks = [t for t in (1, 1.25, 1.5, 2, 3, 5, 10, 20, 50, 100, 1000)
             if lo * 0.99 <= t <= hi * 1.01]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def next_starts(rows, fractions=asymmetry.LEVEL_FRACTIONS, *, reach: float, ratio: float,
                default=(0, 0), keys=("kind", "subset")) -> dict:
    """{(kind, subset): (k_lo, k_hi)} for rows of `direction_rows`: the lattice span of every
    crossing their directions found (`crossing_span`), where the next network's scan of the
    same kind of direction should start."""
    out = {}
    for key in dict.fromkeys(tuple(r[k] for k in keys) for r in rows):
        mine = [r for r in rows if tuple(r[k] for k in keys) == key]
        out[key] = crossing_span([r[f"d_minus_{f:g}"] for r in mine for f in fractions],
                                 [r[f"d_plus_{f:g}"] for r in mine for f in fractions],
                                 reach, ratio, default)
    return out


def verdict_row(v, networks) -> dict:
    """A table row for a finding decided over networks: the ratio (exp of the mean log ratio)
    with its interval, networks at or above the threshold, directions at or above it over all
    networks (`networks`: the rows of a `network_table` behind it), censored directions, the
    verdict."""
    n = networks
    return {"ratio": math.exp(v.estimate), "95% CI": "{:.3g} to {:.3g}".format(*np.exp(v.ci)),
            "seeds ≥ threshold": f"{v.sign_count} of {v.n_units}",
            "directions ≥ threshold": f"{round((n['share_asymmetric'] * n['n']).sum())} of "
                                      f"{n['n'].sum()}",
            "censored": int(n[["n_lower_bound", "n_undetermined",
                               "n_level_not_reached"]].to_numpy().sum()),
            "verdict": v.verdict}


def left_out(networks, label: str) -> list:
    """'label, seed s: reason' for every network of a `network_table` without a value."""
    return [f"{label}, seed {r.seed}: {r.reason}" for r in networks.itertuples()
            if not np.isfinite(r.value)]


# ---- figures ---------------------------------------------------------------------------------


def _select(table, **select):
    for col, v in select.items():
        table = table[table[col] == v]
    return table


def figure_curves(df, panels, kinds, seed, *, xlabel: str, fractions=asymmetry.LEVEL_FRACTIONS,
                  main: float = asymmetry.LEVEL_FRACTION, colour: str = "C0"):
    """Rows of `panels` (recipe, bn_mode, row label), one column per direction kind: the
    first direction of that kind for training seed `seed`, from the rows of
    `direction_rows` in `df`, drawn by `draw_curve` with its level-window ratio as title."""
    import matplotlib.pyplot as plt

    from . import plots
    fig, axes = plt.subplots(len(panels), len(kinds), squeeze=False,
                             figsize=plots.figsize(len(panels), 2.6))
    for r, (recipe, mode, label) in enumerate(panels):
        for c, kind in enumerate(kinds):
            row = _select(df, recipe=recipe, bn_mode=mode, kind=kind, subset="all",
                          seed=seed).iloc[0]
            ax = axes[r, c]
            draw_curve(ax, row, fractions, main, colour)
            ax.set_title(f"{kind}: ratio "
                         + ratio_text(row[f"lr_{main:g}"], row[f"bound_{main:g}"]))
            ax.set(xlabel=xlabel if r == len(panels) - 1 else "",
                   ylabel=f"train loss\n{label}" if c == 0 else "")
    return fig


def figure_levels(table, series, kinds, seeds, fractions=asymmetry.LEVEL_FRACTIONS):
    """The level-window ratio against the level fraction, one panel per kind (shared scale):
    a dot per network of a `network_table`, a line per (recipe, bn_mode) of `series` through
    the geometric means over `seeds`; the legend below the panels."""
    import matplotlib.pyplot as plt

    from . import plots
    fig, axes = plt.subplots(1, len(kinds), sharey=True, squeeze=False,
                             figsize=plots.figsize(1, 3.6))
    for ax, kind in zip(axes[0], kinds):
        for i, (recipe, mode) in enumerate(series):
            per = np.exp([[seed_values(table, f, recipe=recipe, bn_mode=mode, kind=kind,
                                       subset="all").get(s, np.nan) for f in fractions]
                          for s in seeds])
            x = np.asarray(fractions) + (i - (len(series) - 1) / 2) * 0.015
            ax.plot(np.tile(x, (len(seeds), 1)).T, per.T, ".", color=f"C{i}", alpha=0.5)
            ax.plot(x, np.exp(np.nanmean(np.log(per), 0)), "-", color=f"C{i}",
                    label=f"{recipe} · {mode}")
        ax.set(xlabel="level f", xticks=list(fractions), title=kind)
        ratio_axis(ax)
    axes[0, 0].set_ylabel("level-window ratio")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=2,
               fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.06 * math.ceil(len(series) / 2) + 0.02, 1, 1))
    return fig


def figure_paired(table, columns, kinds, seeds, *, ylabel: str, colour: str = "C1",
                  fraction: float = asymmetry.LEVEL_FRACTION):
    """Each network's value on the columns (recipe, bn_mode, tick label), grey lines joining
    the networks of one training seed, diamonds at the geometric means; a panel per kind."""
    import matplotlib.pyplot as plt

    from . import plots
    fig, axes = plt.subplots(1, len(kinds), sharey=True, squeeze=False,
                             figsize=plots.figsize(1, 3.2))
    x = range(len(columns))
    for ax, kind in zip(axes[0], kinds):
        per = np.exp([[seed_values(table, fraction, recipe=r, bn_mode=m, kind=kind,
                                   subset="all").get(s, np.nan) for r, m, _ in columns]
                      for s in seeds])
        ax.plot(x, per.T, "o-", color="grey", alpha=0.6, lw=1, ms=4)
        ax.plot(x, np.exp(np.nanmean(np.log(per), 0)), "D", color=colour, ms=8)
        ax.set_xticks(list(x), [c[2] for c in columns])
        ax.set(title=kind, xlim=(-0.4, len(columns) - 0.6))
        ratio_axis(ax)
    axes[0, 0].set_ylabel(ylabel)
    return fig
