"""Where valley asymmetry comes from, and whether flatness or asymmetry explains SWA: the
analysis of the `origins` chapter.

1. **Probes set by the loss.** `level_search` samples many 1-D loss curves w + l·u at once,
   placing the samples where the level windows of `avalley.asymmetry.level_windows` need
   them: outward from the centre in geometric steps until the loss reaches the level, then by
   bisection inside the last step. The windows themselves are always computed by
   `level_windows` on the samples, so a curve is judged by the book's one rule; the search
   only spends the evaluations where that rule reads the curve (about a dozen per curve
   instead of a dense grid, with the crossing located to a fraction of a step).
2. **Losses along many directions.** `LineLosses` evaluates the training loss at w + l·u_j
   for many directions u_j of one network through the book's landscape engine
   (`avalley.landscape.points`, exact fp32, an explicit BN mode). A direction that moves only
   the classifier (the last nn.Linear) leaves its input unchanged, so in BN eval mode those
   curves are evaluated on the classifier's inputs computed once.
3. **Directions** (`Spec`): the paper's U(0, 1) directions, centred noise with its own
   signs ("plain"), and centred noise whose signs agree with the weights' on a fraction ρ of
   the entries ("matched", `avalley.directions.sign_matched`; ρ = 1 is the noise with its
   signs replaced by the weights' signs). A plain and a matched direction with the same seed
   share their magnitudes |ε|: only the signs differ.
4. **Statistics** over networks: the signed log ratio log(d+/d−) of a curve (positive when
   the +u side is the flat one), the mirror (−u has the opposite sign and agreement 1 − ρ),
   the slope of a ρ sweep, the mean per unit.
5. **Sharpness**: the Hessian's top eigenvalues (Lanczos, with residuals) and trace
   (Hutchinson, deflated by the Ritz vectors, with its standard error), and the slope and
   curvature of the training loss along one direction (`avalley.curvature`, BN in eval mode).
6. `attribution`: what the verdicts on sharpness and on position say about which of the two
   explanations accounts for SWA's train/test pattern, in words.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import asymmetry, directions, landscape
from .curvature import Hessian, deflated_trace, top_eigenvalues
from .errors import ParameterError
from .runtime import exact_fp32

# the direction families of the chapter
FAMILIES = ("uniform", "plain", "matched")


# ---- probes set by the loss -------------------------------------------------------------


@dataclass
class Curve:
    """The samples of one curve: steps `ls` (sorted, 0 included) and the losses there."""
    ls: np.ndarray
    losses: np.ndarray
    n_evals: int                # evaluations spent on this curve (the centre not counted)


def level_search(evaluate, n_curves: int, centre, chance: float,
                 fraction: float = asymmetry.LEVEL_FRACTION, start=0.01, reach: float = 1.0,
                 grow: float = 2.0, refine: int = 3) -> list[Curve]:
    """Samples of `n_curves` loss curves f_j(l), l in [−reach, reach], placed for the level
    windows: on each side, distances start·grow^k (capped at `reach`) until the loss first
    reaches the level L(0) + fraction·(chance − L(0)) (the level of
    `asymmetry.level_windows`), then `refine` bisections of the last step. When the loss at
    `start` is already at the level, the distances shrink instead, start/grow^k, until one is
    below it (down to reach·1e-6), and the bisection follows as before. A side that stays
    below the level up to `reach` stops there (the windows call it censored).

    evaluate(idx, ls) -> losses: the losses of curves idx (int array) at steps ls (float
    array of the same length); it is called once per round with every request of the round,
    so it can batch them. centre: L(0) of each curve (a scalar for all). start: the first
    distance, a scalar or one per curve (a guess of the crossing's scale saves rounds).

    Because every sample before the crossing is below the level and the bisection keeps the
    crossing between its last sample below and its first sample at or above the level, the
    first crossing `level_windows` reads on the samples lies in a bracket of width
    step/2^refine. The search cannot see a dip of the curve between two samples (nor can
    any grid): `level_windows` judges "not a valley" on the samples it is given.
    A loss that is not finite counts as above every level and is stored as 1e30."""
    if n_curves < 1:
        raise ParameterError(f"level_search() needs at least one curve; got {n_curves}.")
    if not 0 < fraction < 1:
        raise ParameterError(f"fraction must lie in (0, 1); got {fraction}.")
    if not (reach > 0 and grow > 1 and refine >= 0 and int(refine) == refine):
        raise ParameterError(f"level_search() needs reach > 0, grow > 1 and an integer "
                             f"refine >= 0; got reach={reach}, grow={grow}, refine={refine}.")
    centre = np.broadcast_to(np.asarray(centre, dtype=float), (n_curves,)).copy()
    start = np.broadcast_to(np.asarray(start, dtype=float), (n_curves,)).copy()
    if not np.all((start > 0) & (start <= reach)):
        raise ParameterError(f"start must lie in (0, reach = {reach}]; got {start.tolist()}.")
    if not np.all(np.isfinite(centre)):
        raise ParameterError("level_search(): the centre losses must be finite.")
    level = centre + fraction * (chance - centre)
    # one pair per (curve, side); side −1 then +1
    curve = np.repeat(np.arange(n_curves), 2)
    side = np.tile([-1.0, 1.0], n_curves)
    lvl = np.repeat(level, 2)
    nxt = np.repeat(start, 2)          # next distance to try while expanding
    lo = np.zeros(2 * n_curves)        # last distance below the level
    hi = np.full(2 * n_curves, np.nan)  # first distance at or above it
    left = np.full(2 * n_curves, int(refine))
    phase = np.zeros(2 * n_curves, int)   # 0 expanding, 1 bisecting, 2 done, 3 shrinking
    floor = reach * 1e-6
    samples = [([0.0], [float(centre[c])]) for c in range(n_curves)]
    evals = np.zeros(n_curves, int)
    while np.any(phase != 2):
        act = np.flatnonzero(phase != 2)
        x = np.where(phase[act] == 1, (lo[act] + hi[act]) / 2, nxt[act])
        f = np.asarray(evaluate(curve[act], side[act] * x), dtype=float).reshape(-1)
        if f.shape != x.shape:
            raise ValueError(f"evaluate returned {f.shape[0]} losses for {x.shape[0]} steps")
        f = np.where(np.isfinite(f), f, 1e30)
        for p, xi, fi in zip(act, x, f):
            c = curve[p]
            samples[c][0].append(float(side[p] * xi))
            samples[c][1].append(float(fi))
            evals[c] += 1
            above = fi >= lvl[p]
            if phase[p] == 3 or (phase[p] == 0 and above and lo[p] == 0):
                # shrinking: every distance tried so far is at or above the level
                if above and xi > floor:
                    hi[p], nxt[p], phase[p] = xi, xi / grow, 3
                elif above:
                    hi[p], phase[p] = xi, 1 if left[p] > 0 else 2
                else:
                    lo[p], phase[p] = xi, 1 if left[p] > 0 else 2
            elif phase[p] == 0:
                if above:
                    hi[p] = xi
                    phase[p] = 1 if left[p] > 0 else 2
                elif xi >= reach:
                    lo[p], phase[p] = xi, 2
                else:
                    lo[p], nxt[p] = xi, min(xi * grow, reach)
            else:
                if above:
                    hi[p] = xi
                else:
                    lo[p] = xi
                left[p] -= 1
                if left[p] == 0:
                    phase[p] = 2
    out = []
    for c, (ls, fs) in enumerate(samples):
        ls, fs = np.asarray(ls), np.asarray(fs)
        order = np.argsort(ls)
        out.append(Curve(ls[order], fs[order], int(evals[c])))
    return out


def windows(curve: Curve, chance: float, fraction: float = asymmetry.LEVEL_FRACTION) -> dict:
    """`asymmetry.level_windows` of one sampled curve at one level, with the signed log
    ratio log(d+/d−) added: positive when the +u side is the flat one (its window is longer);
    NaN unless the status is "measured" or "lower bound" (then it is a bound on |log ratio|,
    from the side that did not reach the level). Values are plain Python scalars."""
    raw = asymmetry.level_windows(curve.ls, curve.losses, chance, fraction)
    # one curve, one level: plain Python scalars
    w = {k: (str(v) if k in ("status", "verdict") else bool(v) if k.startswith("censored")
             else int(v) if k == "flat_side" else float(v)) for k, v in raw.items()}
    has = w["status"] in (asymmetry.MEASURED, asymmetry.LOWER_BOUND)
    w["signed_log_ratio"] = float(np.log(w["d_plus"] / w["d_minus"])) if has else math.nan
    return w


def log_ratio_gap(a: float, b: float) -> float:
    """How far two signed log ratios of one curve (two ways of sampling it) differ: |a − b|;
    0 when neither found a pair of windows (both NaN), inf when only one did."""
    found = math.isfinite(a), math.isfinite(b)
    if all(found):
        return abs(a - b)
    return math.inf if any(found) else 0.0


def next_start(w: dict, reach: float, default: float | None = None) -> float:
    """A first distance for the next search of a similar curve (the same direction family on
    another network, say): 0.7 times the shorter window of `w`, within [reach/256, reach], so
    that with steps doubling the first two distances bracket a crossing like it; or
    `default` (reach/64 when None) when `w` has no window on both sides."""
    fallback = reach / 64 if default is None else default
    if w["status"] not in (asymmetry.MEASURED, asymmetry.LOWER_BOUND):
        return fallback
    return float(np.clip(0.7 * min(w["d_minus"], w["d_plus"]), reach / 256, reach))


# ---- losses along many directions of one network ----------------------------------------


def classifier_module(model: nn.Module) -> tuple[str, nn.Linear]:
    """The classifier: the last nn.Linear in module order (the `classifier` group of
    avalley.directions)."""
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ParameterError(f"{type(model).__name__} has no nn.Linear classifier.")
    return linears[-1]


def moves_only_classifier(direction: directions.Direction, model: nn.Module) -> bool:
    """Whether every nonzero entry of the direction belongs to the classifier's parameters."""
    name, _ = classifier_module(model)
    keep = {f"{name}.weight", f"{name}.bias"} if name else {"weight", "bias"}
    return all(n in keep or not bool(t.any()) for n, t in direction.as_dict().items())


class LineLosses:
    """The mean training loss at w + l·u_j, for directions u_j of one model, as
    `evaluate(idx, ls)` for `level_search`.

    Points go through `landscape.points` (exact fp32, BN mode `bn_mode`), only the directions
    a call needs at a time; `test` is not used (one image is passed to the engine). In eval
    mode (or for a model without BN), a direction that moves only the classifier is evaluated
    on the classifier's inputs, computed once: the same function, since nothing before the
    classifier moves (the first call checks that the model's logits are the classifier's
    output on those inputs, else every direction goes through the engine)."""

    def __init__(self, model: nn.Module, dirs: list[directions.Direction], x: torch.Tensor,
                 y: torch.Tensor, bn_mode: str = "eval", bn_batch: int = 128,
                 bn_data: torch.Tensor | None = None, eval_batch: int | None = None):
        if bn_mode not in landscape.BN_MODES:
            raise ParameterError(f"Unknown bn_mode {bn_mode!r}. Valid BN modes: "
                                 f"{', '.join(landscape.BN_MODES)}.")
        self.model, self.dirs, self.x, self.y = model, list(dirs), x, y
        self.kw = dict(bn_mode=bn_mode, bn_batch=bn_batch, bn_data=bn_data,
                       eval_batch=eval_batch)
        fast = bn_mode == "eval" or not landscape.has_bn(model)
        self.cls = [fast and moves_only_classifier(d, model) for d in self.dirs]
        self.features = None
        self.n_points = 0          # points evaluated through the engine
        self.n_fast = 0            # points evaluated on the classifier's inputs
        if any(self.cls):
            self.features = self._features()
            if self.features is None:
                self.cls = [False] * len(self.dirs)

    def _features(self):
        """(inputs of the classifier, its weight and bias names), or None when the logits are
        not the classifier's output on them."""
        name, lin = classifier_module(self.model)
        seen = {}
        hook = lin.register_forward_hook(lambda m, i, o: seen.update(x=i[0], out=o))
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), exact_fp32():
                xb = self.x.contiguous(memory_format=torch.channels_last) \
                    if self.x.dim() == 4 else self.x
                logits = self.model(xb)
        finally:
            hook.remove()
            self.model.train(was)
        if "x" not in seen or seen["out"].shape != logits.shape or \
                not torch.allclose(seen["out"], logits, rtol=1e-5, atol=1e-6):
            return None
        prefix = f"{name}." if name else ""
        return seen["x"].detach().double(), prefix + "weight", prefix + "bias"

    def centre(self) -> float:
        """L(w), the loss at the centre (through the engine)."""
        return float(self._engine([0], np.zeros(1))[0])

    def _engine(self, idx, ls) -> np.ndarray:
        need = sorted(set(int(i) for i in idx))
        where = {j: k for k, j in enumerate(need)}
        coords = np.zeros((len(idx), len(need)))
        coords[np.arange(len(idx)), [where[int(i)] for i in idx]] = ls
        test = (self.x[:1], self.y[:1])
        sc = landscape.points(self.model, [self.dirs[j] for j in need], coords,
                              (self.x, self.y), test, **self.kw)
        self.n_points += len(idx)
        return sc.train_loss

    def _fast(self, idx, ls) -> np.ndarray:
        feats, wname, bname = self.features
        params = dict(self.model.named_parameters())
        W, b = params[wname].detach().double(), params[bname].detach().double() \
            if bname in params else None
        y = self.y.to(feats.device)
        out = np.empty(len(idx))
        for k, (i, l_) in enumerate(zip(idx, ls)):
            d = self.dirs[int(i)].as_dict()
            Wl = W + float(l_) * d[wname].to(W)
            logits = feats @ Wl.T
            if b is not None:
                logits = logits + b + float(l_) * d[bname].to(b)
            out[k] = float(F.cross_entropy(logits, y))
        self.n_fast += len(idx)
        return out

    def __call__(self, idx, ls) -> np.ndarray:
        idx, ls = np.asarray(idx, dtype=int), np.asarray(ls, dtype=float)
        out = np.empty(len(idx))
        fast = np.array([self.cls[i] for i in idx], dtype=bool)
        if fast.any():
            out[fast] = self._fast(idx[fast], ls[fast])
        if (~fast).any():
            out[~fast] = self._engine(idx[~fast], ls[~fast])
        return out


# ---- directions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One direction of the chapter. family: "uniform" (U(0, 1) entries, the paper's),
    "plain" (centred `noise` with its own signs), "matched" (centred `noise` whose signs agree
    with the weights' on a fraction `rho` of the entries; rho = 1: signs replaced by the
    weights' signs). group: a subset of avalley.directions.SUBSETS. seed: the draw; a plain
    and a matched direction with one seed share their magnitudes."""
    family: str
    group: str = "all"
    seed: int = 0
    noise: str | None = None
    rho: float | None = None

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ParameterError(f"Unknown direction family {self.family!r}. Valid: "
                                 f"{', '.join(FAMILIES)}.")
        if self.family != "uniform" and self.noise not in directions.CENTRED:
            raise ParameterError(f"A {self.family} direction needs centred noise, one of "
                                 f"{', '.join(directions.CENTRED)}; got {self.noise!r}.")
        if (self.family == "matched") != (self.rho is not None):
            raise ParameterError("rho is the agreement of a matched direction, and only of "
                                 "one.")

    @property
    def kind(self) -> tuple:
        """Everything but the seed: specs of one kind are draws of one distribution."""
        return (self.family, self.group, self.noise, self.rho)

    @property
    def label(self) -> str:
        if self.family == "uniform":
            return "U(0,1)"
        noise = {"gaussian": "Gaussian", "uniform-centred": "U(−1,1)",
                 "laplace": "Laplace"}[self.noise]
        if self.family == "plain":
            return f"{noise}, plain"
        return f"{noise}, signs replaced" if self.rho == 1 else f"{noise}, ρ = {self.rho:g}"

    def make(self, model: nn.Module, normalize: str = "weights") -> directions.Direction:
        """The direction, scaled by `normalize` (unit, weights or none, as in
        avalley.directions)."""
        if self.family == "uniform":
            return directions.random_direction(model, "uniform", self.group, self.seed,
                                               normalize)
        if self.family == "plain":
            return directions.random_direction(model, self.noise, self.group, self.seed,
                                               normalize)
        return directions.sign_matched(model, self.noise, self.rho, self.group, self.seed,
                                       normalize)


def probe(model: nn.Module, specs: list[Spec], x: torch.Tensor, y: torch.Tensor,
          chance: float, *, reach: float = 4.0, refine: int = 2, grow: float = 2.0,
          starts: dict | None = None, bn_mode: str = "eval", bn_batch: int = 128,
          normalize: str = "weights",
          fraction: float = asymmetry.LEVEL_FRACTION) -> tuple[list[dict], dict]:
    """The level windows of the training loss (on x, y) along every direction of `specs`
    through the model's weights: the directions (scaled by `normalize`; with "weights", l is
    in units of the norm of the group's weights), `level_search` over l in [−reach, reach]
    through `LineLosses`, and `windows` on each curve.

    starts: Spec.kind -> a first distance (e.g. `next_start` of the same kind on another
    network); reach/64 for a kind it lacks. Returns one record per spec (spec, agreement:
    the direction's sign agreement with the group's weights, windows, curve,
    signed_log_ratio, n_evals) and the run's totals (centre loss, points evaluated through
    the engine and on the classifier's inputs)."""
    dirs = [s.make(model, normalize) for s in specs]
    ev = LineLosses(model, dirs, x, y, bn_mode=bn_mode, bn_batch=bn_batch)
    c0 = ev.centre()
    first = [float((starts or {}).get(s.kind, reach / 64)) for s in specs]
    curves = level_search(ev, len(dirs), c0, chance, fraction, first, reach, grow, refine)
    out = []
    for s, d, c in zip(specs, dirs, curves):
        w = windows(c, chance, fraction)
        out.append({"spec": s, "agreement": directions.sign_agreement(d, model, s.group),
                    "windows": w, "curve": c, "signed_log_ratio": w["signed_log_ratio"],
                    "n_evals": c.n_evals})
    return out, {"centre": c0, "n_points": ev.n_points, "n_fast": ev.n_fast}


def positive_share(model: nn.Module, group: str = "bn-weight") -> float | None:
    """The fraction of the group's nonzero weights that are positive (None when all are 0):
    the sign agreement of an all-positive direction, such as the paper's U(0, 1)."""
    mask = directions.subset_mask(model, group)
    w = torch.cat([p.detach().reshape(-1).float().cpu() for n, p in model.named_parameters()
                   if mask[n]])
    w = w[w != 0]
    return float((w > 0).double().mean()) if len(w) else None


# ---- statistics --------------------------------------------------------------------------


def mirror(rho, value):
    """The curve of −u read off the scan of u: its agreement is 1 − rho and its signed log
    ratio −value (the two sides swap). Exact for matched directions, whose nonzero-weight
    entries all flip sign."""
    return 1 - np.asarray(rho, dtype=float), -np.asarray(value, dtype=float)


def sweep_slope(rhos, values) -> float:
    """The least-squares slope of the signed log ratio against rho for a sweep read with its
    mirror: through the points (rho, s) and (1 − rho, −s) the fitted line passes through
    (1/2, 0) and its slope is Σ(rho − 1/2)·s / Σ(rho − 1/2)². NaN values are left out; NaN
    when no rho other than 1/2 remains."""
    r, s = np.asarray(rhos, dtype=float), np.asarray(values, dtype=float)
    keep = np.isfinite(s) & (r != 0.5)
    if not keep.any():
        return math.nan
    c = r[keep] - 0.5
    return float((c * s[keep]).sum() / (c * c).sum())


def unit_means(values: dict) -> tuple[dict, dict]:
    """unit -> the mean of its finite values, and unit -> the reason it has none (for the
    units left out). `values`: unit -> list of numbers."""
    means, left_out = {}, {}
    for unit, v in values.items():
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        if v.size:
            means[unit] = float(v.mean())
        else:
            left_out[unit] = "no curve with a measured window"
    return means, left_out


# ---- sharpness ---------------------------------------------------------------------------


@dataclass
class Sharpness:
    loss: float                  # the mean loss on the images
    eigenvalues: list            # the top Ritz values, largest first
    residuals: list              # their measured residuals ‖H v − λ v‖
    trace: float                 # deflated Hutchinson estimate of tr H
    trace_se: float              # its standard error
    steps: int                   # Lanczos steps taken
    n_hvp: int                   # Hessian-vector products spent
    meta: dict = field(default_factory=dict)


def sharpness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, k: int = 2,
              steps: int = 5, probes: int = 3, seed: int = 0,
              batch_size: int = 128) -> Sharpness:
    """The Hessian of the mean training loss on (x, y), BN in eval mode: its top k
    eigenvalues by `steps` Lanczos steps (each with its measured residual: an eigenvalue lies
    within it), and its trace with the Lanczos basis deflated (`curvature.deflated_trace`,
    `probes` probes). The seed fixes the Lanczos start and the probes, so two solutions
    measured with one seed share them. Costs steps + k + probes Hessian-vector products."""
    H = Hessian(model, x, y, batch_size=batch_size)
    eig = top_eigenvalues(H, k=k, steps=steps, seed=seed, keep_basis=True)
    tr = deflated_trace(H, eig, probes=probes, seed=seed)
    return Sharpness(H.loss(), eig.values, eig.residuals, tr.mean, tr.stderr, eig.steps,
                     eig.steps + len(eig.values) + probes,
                     {"n_images": len(x), "k": k, "probes": probes, "seed": seed})


def along(model: nn.Module, u: directions.Direction, x: torch.Tensor, y: torch.Tensor,
          batch_size: int = 128) -> dict:
    """The training loss along the unit direction û = u/‖u‖ at the model's weights, BN in
    eval mode: slope ∇L·û and curvature ûᵀ H û (one gradient, one Hessian-vector
    product); ‖u‖ for converting to the units of u."""
    H = Hessian(model, x, y, batch_size=batch_size)
    if u.names != H.names:
        raise ParameterError("along(): the direction belongs to another model.")
    norm = float(u.vec.norm())
    if norm == 0:
        raise ParameterError("along(): the direction is 0.")
    v = (u.vec.double() / norm).to(H.device)
    return {"slope": float(H.gradient() @ v), "curvature": float(v @ H.mv(v)),
            "norm": norm, "loss": H.loss()}


def line_ends(model_a: nn.Module, model_b: nn.Module, x: torch.Tensor, y: torch.Tensor,
              h: float = 0.25, bn_mode: str = "recompute", bn_batch: int = 128,
              bn_data: torch.Tensor | None = None) -> dict:
    """The training loss (on x, y) on the line w(t) = w_a + t (w_b − w_a) around its two ends,
    at t = −h, 0, h and 1 − h, 1, 1 + h (the landscape engine, BN mode `bn_mode`; with
    "recompute", the paper's protocol, the statistics are re-estimated at every point on
    `bn_data` in batches of `bn_batch`, so t = 0 and t = 1 are the two solutions as they were
    evaluated), and the slope and curvature at each end by central differences, in units of
    t: slope_a = (L(h) − L(−h)) / 2h, curvature_a = (L(h) − 2 L(0) + L(−h)) / h², and the
    same at t = 1 (slope_b, curvature_b). distance: ‖w_b − w_a‖ (divide a slope by it, a
    curvature by its square, for units of weight distance). In "eval" mode every point keeps
    model_a's statistics, so t = 1 is not model_b as evaluated on its own."""
    if not 0 < h < 0.5:
        raise ParameterError(f"h must lie in (0, 1/2), so that the two ends' points stay "
                             f"apart; got {h}.")
    u = directions.between(model_a, model_b)
    ts = np.array([-h, 0.0, h, 1 - h, 1.0, 1 + h])
    sc = landscape.line(model_a, u, ts, (x, y), (x[:1], y[:1]), bn_mode=bn_mode,
                        bn_batch=bn_batch, bn_data=bn_data)
    L = sc.train_loss.astype(float)
    return {"ts": ts, "losses": L, "distance": u.norm, "bn_mode": bn_mode,
            "slope_a": (L[2] - L[0]) / (2 * h), "curvature_a": (L[2] - 2 * L[1] + L[0]) / h ** 2,
            "slope_b": (L[5] - L[3]) / (2 * h),
            "curvature_b": (L[5] - 2 * L[4] + L[3]) / h ** 2}


def group_norm(model: nn.Module, group: str = "conv") -> float:
    """The norm of the weights of a parameter group (avalley.directions.SUBSETS). For weights
    that feed a BN layer (every convolution of the book's convnets), scaling them by α, with
    the running statistics, leaves the function unchanged and scales their Hessian block by
    1/α² (Dinh et al. 2017): a smaller norm reads as a sharper minimum."""
    mask = directions.subset_mask(model, group)
    return float(torch.cat([p.detach().reshape(-1).double().cpu()
                            for n, p in model.named_parameters() if mask[n]]).norm())


# ---- which explanation -------------------------------------------------------------------


def attribution(flatter_than_sgd: str, after_sharper: str, flat_side: str,
                above_floor: str, pattern: str = "holds") -> dict:
    """What four verdicts ("holds", "fails", "inconclusive") say about SWA's train/test
    pattern. flatter_than_sgd: SWA is flatter than the SGD baseline; after_sharper: the
    SGD-after-SWA iterate (lower train, higher test loss than SWA) is sharper than SWA;
    flat_side: the curvature along the line from SWA to that iterate is lower at SWA;
    above_floor: the training loss descends from SWA along that line; pattern: the iterate's
    test loss is higher than SWA's (when it is not established, the text says that there is
    little for either explanation to account for).

    Returns {"label", "text"}. label:
    - "position": SWA sits above the floor on the gentler side (both position verdicts
      hold) and the iterate is not measurably sharper: position accounts for SWA against
      that iterate, sharpness does not;
    - "position, in part": one of the two position verdicts holds, the other is not
      established, and the iterate is not measurably sharper;
    - "sharpness": the iterate is sharper and no position verdict holds;
    - "both": the iterate is sharper and a position verdict holds: these measurements do
      not tell the two apart;
    - "neither": nothing is established."""
    for v in (flatter_than_sgd, after_sharper, flat_side, above_floor, pattern):
        if v not in ("holds", "fails", "inconclusive"):
            raise ValueError(f"a verdict is holds, fails or inconclusive, not {v!r}")
    held = [name for name, v in (("above the valley floor (the training loss descends from "
                                  "it along the line)", above_floor),
                                 ("on the gentler side (the line curves less there than at "
                                  "the other end)", flat_side)) if v == "holds"]
    failed = [name for name, v in (("above the valley floor", above_floor),
                                   ("on the gentler side", flat_side)) if v == "fails"]
    sharp = after_sharper == "holds"
    if held and sharp:
        label = "both"
    elif sharp:
        label = "sharpness"
    elif len(held) == 2:
        label = "position"
    elif held:
        label = "position, in part"
    else:
        label = "neither"
    iterate = ("the SGD-after-SWA iterate, which has a lower training loss and a higher test "
               "loss than SWA" if pattern == "holds" else
               "the SGD-after-SWA iterate, which has a lower training loss than SWA")
    pos = " and ".join(held)
    text = {
        "position": f"Against {iterate}, SWA is not measurably flatter, yet it sits {pos}: "
                    "the position in an asymmetric valley accounts for the difference between "
                    "the two, and sharpness does not.",
        "position, in part": f"Against {iterate}, SWA is not measurably flatter, and it sits "
                             f"{pos}; the other half of the position (" +
                             ("on the gentler side" if above_floor == "holds" else
                              "above the valley floor") + ") is not established. Sharpness "
                             "does not account for the difference between the two; the "
                             "position accounts for it in part.",
        "sharpness": f"{iterate[0].upper()}{iterate[1:]} is measurably sharper than SWA, while "
                     "SWA's position is not established: sharpness accounts for the difference "
                     "between the two, position is not shown to.",
        "both": f"{iterate[0].upper()}{iterate[1:]} is sharper than SWA, and SWA sits {pos}: "
                "both explanations fit, and these measurements cannot tell them apart, since "
                "the gentle side of an asymmetric valley is itself the flatter place. A point "
                "as flat as SWA at the valley floor, or one as sharp as SWA on the gentle side, "
                "would separate them.",
        "neither": f"Against {iterate}, neither a sharpness difference nor SWA's position "
                   "above the floor on the gentler side is established at this profile.",
    }[label]
    if failed:
        text += f" The data go against SWA being {' and '.join(failed)}."
    if pattern != "holds":
        text = ("The SGD-after-SWA iterate's test loss is not measurably higher than SWA's, so "
                "between these two there is little for either explanation to account for. "
                + text)
    if flatter_than_sgd == "holds":
        text += (" SWA is flatter than the SGD baseline, as the sharpness explanation "
                 "expects; that alone does not predict SWA's higher training loss.")
    elif flatter_than_sgd == "fails":
        text += (" SWA is sharper than the SGD baseline, so sharpness, as measured here, "
                 "cannot explain a lower test loss of SWA against that baseline.")
    else:
        text += " Whether SWA is flatter than the SGD baseline is not established."
    return {"label": label, "text": text}
