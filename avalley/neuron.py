"""The paper's smallest model: one sigmoid neuron (weight and bias) on 1-D data, BCE loss.

Follows the public script `logistic_regression_2params.py` of the paper's code: per seed,
`torch.manual_seed(seed)`, 10 points from N(+1, 1) labelled 0 and 10 from N(−1, 1) labelled 1,
a `Linear(1, 1)` initialized by torch's default (a second one is created and discarded, as
the script's averaged copy is, so the random direction comes from the same stream), full-batch
GD at lr 0.01 with a running average of the iterates, and the direction `torch.rand(2)`
normalized to unit length. Everything is float64 and the loss is BCE on logits (the script's
sigmoid-then-log saturates far from the centre).

The script's line: centre = the average of its 30 GD iterates (`NeuronRun.average`), points
centre + l·u for l = 0.5·k, k = −15..15 (`script_grid`, l ∈ [−7.5, 7.5]). Its loss is
float32 `BCELoss` on sigmoid outputs, which clamps each log term at −100: once σ(z) rounds
to exactly 1 (or 0) in float32 a point's loss jumps from about 17 to 100, and the mean
over 20 points by about 4.1 (`script_line_losses`, `float32_artefact`). The library's
`line_losses` is the correct float64 loss on logits, without that artefact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

N_PER_CLASS = 10
SCRIPT_STEP = 0.5      # the script's `distances_scale`: l = 0.5·k
SCRIPT_N_SIDE = 15     # k = −15..15, so l ∈ [−7.5, 7.5]
BCE_LOG_CLAMP = -100.0  # torch's BCELoss clamps log(σ) and log(1 − σ) from below at this
# A jump between neighbouring grid points, beyond the correct loss's own change, larger
# than this is the clamp's artefact: one clamped point moves the mean by about 4.1, while
# float32 rounding elsewhere moves it by less than 0.05 (seeds 0-49).
ARTEFACT_JUMP = 1.0


@dataclass
class NeuronRun:
    seed: int
    x: torch.Tensor           # (20,) inputs
    y: torch.Tensor           # (20,) labels 0/1
    init: torch.Tensor        # (2,) [weight, bias] at initialization
    last: torch.Tensor        # (2,) last GD iterate
    average: torch.Tensor     # (2,) average of the GD iterates (the script's "SWA" point)
    direction: torch.Tensor   # (2,) unit vector with entries from U(0, 1) before normalizing


def loss(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean BCE of the neuron at theta = (..., [weight, bias]); batched over the leading
    dimensions of theta."""
    logits = theta[..., 0:1] * x + theta[..., 1:2]
    return F.binary_cross_entropy_with_logits(logits, y.expand_as(logits),
                                              reduction="none").mean(-1)


def make_run(seed: int, steps: int = 30, lr: float = 0.01) -> NeuronRun:
    """Data, initialization, `steps` full-batch GD steps with the iterate average, and the
    random direction, drawn in the public script's order from `torch.manual_seed(seed)`."""
    with torch.random.fork_rng(devices=[]):      # the script's global-seed stream, isolated
        torch.manual_seed(seed)
        ones = torch.ones(N_PER_CLASS, 1)
        x0 = torch.normal(ones, 1.0)
        x1 = torch.normal(-ones, 1.0)
        net = torch.nn.Linear(1, 1)
        torch.nn.Linear(1, 1)                    # the script's averaged copy, overwritten there
        init = torch.cat([net.weight.detach().view(-1), net.bias.detach()]).double()
        x = torch.cat([x0, x1]).double().view(-1)
        y = torch.cat([torch.zeros(N_PER_CLASS), torch.ones(N_PER_CLASS)]).double()
        theta, total = init.clone(), torch.zeros(2, dtype=torch.float64)
        for _ in range(steps):
            theta = theta - lr * grad(theta, x, y)
            total += theta
        u = torch.rand(2).double()
    return NeuronRun(seed, x, y, init, theta, total / max(steps, 1), u / u.norm())


def grad(theta, x, y):
    """Closed-form gradient of the mean BCE: mean((σ(z) − y)·[x, 1])."""
    r = torch.sigmoid(theta[0] * x + theta[1]) - y
    return torch.stack([(r * x).mean(), r.mean()])


def separable(run: NeuronRun) -> bool:
    """1-D data are separable when one class lies entirely left of the other; then the BCE
    has no minimizer (it decreases forever along the separating direction)."""
    a, b = run.x[run.y == 1], run.x[run.y == 0]
    return bool(a.max() < b.min() or b.max() < a.min())


def minimize(run: NeuronRun, tol: float = 1e-10, max_iter: int = 100):
    """The empirical minimizer by Newton's method from the average (two parameters, convex
    loss, closed-form Hessian mean(σ'(z)·[x, 1][x, 1]ᵀ)). Returns (theta, gradient norm).
    Meaningless for separable data (see `separable`)."""
    theta = run.average.clone()
    feats = torch.stack([run.x, torch.ones_like(run.x)], 1)
    for _ in range(max_iter):
        g = grad(theta, run.x, run.y)
        if g.norm() < tol:
            break
        s = torch.sigmoid(feats @ theta)
        h = (feats.T * (s * (1 - s))) @ feats / len(s)
        theta = theta - torch.linalg.solve(h, g)
    return theta, float(grad(theta, run.x, run.y).norm())


def line_losses(run: NeuronRun, centre: torch.Tensor, ls) -> np.ndarray:
    """L̂(centre + l·u) for every l in ls, in one batched evaluation."""
    ls = torch.as_tensor(np.asarray(ls), dtype=torch.float64)
    thetas = centre[None, :] + ls[:, None] * run.direction[None, :]
    return loss(thetas, run.x, run.y).detach().numpy()


def script_grid() -> np.ndarray:
    """The script's steps along u: l = 0.5·k for k = −15..15 (31 points, l = 0 exact)."""
    return SCRIPT_STEP * np.arange(-SCRIPT_N_SIDE, SCRIPT_N_SIDE + 1)


def script_line_losses(run: NeuronRun, centre: torch.Tensor, ls) -> np.ndarray:
    """The public script's loss along the line, artefact included: float32 parameters
    centre + l·u, σ(θ_1·x + θ_2) in float32, then `binary_cross_entropy` (the functional
    form of `BCELoss`), which clamps every log term at −100, averaged over the 20 points.
    The centre is cast to float32 (the script trains in float32; its average iterate agrees
    with `make_run`'s float64 one to float32 precision). Returns float64 values (n,)."""
    ls = torch.as_tensor(np.asarray(ls, dtype=float), dtype=torch.float32)
    thetas = centre.float()[None, :] + ls[:, None] * run.direction.float()[None, :]
    prob = torch.sigmoid(thetas[:, 0:1] * run.x.float() + thetas[:, 1:2])
    bce = F.binary_cross_entropy(prob, run.y.float().expand_as(prob), reduction="none")
    return bce.mean(-1).double().numpy()


def float32_artefact(script, exact) -> dict:
    """The size of the script's float32 artefact on curves sampled on one grid: `script`
    from `script_line_losses`, `exact` from `line_losses`, each (n,) or (m, n).
    Returns per curve (arrays (m,), scalars for one curve):
    max_error: max over the grid of |script − exact|;
    max_jump: the largest |change| of the script's curve between neighbouring grid points;
    max_excess_jump: the largest |change of script − change of exact| between neighbours,
    the part of a jump that the correct loss does not have (compare with ARTEFACT_JUMP)."""
    a = np.atleast_2d(np.asarray(script, dtype=float))
    b = np.atleast_2d(np.asarray(exact, dtype=float))
    if a.shape != b.shape or a.shape[1] < 2:
        raise ValueError(f"script and exact must have the same shape, (n,) or (m, n) with "
                         f"n >= 2; got {np.shape(script)} and {np.shape(exact)}")
    out = {"max_error": np.abs(a - b).max(1), "max_jump": np.abs(np.diff(a, axis=1)).max(1),
           "max_excess_jump": np.abs(np.diff(a - b, axis=1)).max(1)}
    return {k: v[0] if np.ndim(script) == 1 else v for k, v in out.items()}


# ---- the slide's figure and many seeds at once -------------------------------------------

SLIDE_SEED = 2
# The slide's toy figure (seed 2 of the script, its line and its float32 loss), read off as
# printed: (l, loss as printed). The loss is lowest near l = SLIDE_ARGMIN.
SLIDE_VALUES = ((0.0, "0.611"), (7.5, "5.21"), (-7.5, "1.17"))
SLIDE_ARGMIN = -1.0


def slide_agreement(ls, losses) -> dict:
    """Whether a curve on the grid ls (l = 0, ±7.5 and −1 among its steps, or inside it)
    reproduces the slide's values: each value, linearly interpolated at the slide's l, must
    round to the printed number (an error of at most half a unit in its last digit), and the
    curve's lowest sample must lie within half a grid step of SLIDE_ARGMIN.

    Returns {"rows": [{"l", "slide", "book", "error", "tolerance", "agrees"}, ...],
    "argmin": the l of the lowest sample, "argmin_agrees", "agrees" (all of them)}."""
    ls, y = np.asarray(ls, dtype=float), np.asarray(losses, dtype=float)
    if ls.ndim != 1 or y.shape != ls.shape:
        raise ValueError(f"ls and losses must be 1-D of the same length, got {ls.shape} and "
                         f"{y.shape}")
    if ls[0] > min(l_ for l_, _ in SLIDE_VALUES) or ls[-1] < max(l_ for l_, _ in SLIDE_VALUES):
        raise ValueError(f"the grid [{ls[0]:g}, {ls[-1]:g}] does not cover the slide's steps")
    rows = []
    for l_, printed in SLIDE_VALUES:
        decimals = len(printed.split(".")[1]) if "." in printed else 0
        book = float(np.interp(l_, ls, y))
        tol = 0.5 * 10.0 ** -decimals
        rows.append({"l": l_, "slide": float(printed), "book": book,
                     "error": book - float(printed), "tolerance": tol,
                     "agrees": bool(abs(book - float(printed)) <= tol)})
    arg = float(ls[int(np.argmin(y))])
    half_step = 0.5 * float(np.max(np.diff(ls)))
    arg_ok = bool(abs(arg - SLIDE_ARGMIN) <= half_step)
    return {"rows": rows, "argmin": arg, "argmin_agrees": arg_ok,
            "agrees": arg_ok and all(r["agrees"] for r in rows)}


@dataclass
class ToyCurves:
    """The toy model over seeds, on one grid ls (n,): per seed (rows, shape (m, n))."""
    seeds: np.ndarray
    ls: np.ndarray
    script: np.ndarray        # the correct loss along the script's line (centre: the average)
    script_float32: np.ndarray  # the script's own float32 loss there, artefact included
    converged: np.ndarray     # the correct loss through the empirical minimizer (NaN rows
    #                           for separable seeds, which have none)
    separable: np.ndarray     # (m,) bool
    moved: np.ndarray         # (m,) |average − initialization|: how far 30 GD steps got


def toy_curves(seeds, ls, steps: int = 30, lr: float = 0.01) -> ToyCurves:
    """`make_run`, `minimize` and the three losses along each seed's direction."""
    seeds = np.asarray(list(seeds), dtype=int)
    ls = np.asarray(ls, dtype=float)
    out = {k: [] for k in ("script", "script_float32", "converged", "separable", "moved")}
    for s in seeds:
        r = make_run(int(s), steps=steps, lr=lr)
        sep = separable(r)
        out["separable"].append(sep)
        out["moved"].append(float((r.average - r.init).norm()))
        out["script"].append(line_losses(r, r.average, ls))
        out["script_float32"].append(script_line_losses(r, r.average, ls))
        out["converged"].append(np.full(ls.size, np.nan) if sep
                                else line_losses(r, minimize(r)[0], ls))
    return ToyCurves(seeds, ls, **{k: np.array(v) for k, v in out.items()})
