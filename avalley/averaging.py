"""Theorem 2 by simulation: 1-D SGD w <- w - η(∇L(w) + ω) with bounded noise, many
independent runs at once (vectorized over runs), and the average of the iterates.

Besides the valleys of `avalley.valleys`, the theorem's own setting is here: a
piecewise-linear valley whose gradient lies in [b_+, a_+] on the flat side (w >= 0) and in
[b_-, a_-] on the sharp side (w < 0), with the theorem's conditions checked for each setting.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PATTERNS = ("constant", "random")


class BoundedSlopeValley:
    """Piecewise-linear valley with minimum 0 at w = 0, flat side w >= 0.

    pattern "constant": gradient a_+ on the flat side and a_- on the sharp side (the
    theorem's extreme case b = a). pattern "random": the line is cut into segments of
    length `spacing`; each segment's gradient is drawn uniformly within the side's bounds
    [b_+, a_+] or [b_-, a_-] (seeded), and the last segment's gradient continues outwards.
    """
    flat = 1

    def __init__(self, a_plus: float, c: float, b_plus: float | None = None,
                 b_minus: float | None = None, pattern: str = "constant",
                 spacing: float = 0.05, n_segments: int = 400, seed: int = 0):
        if pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {PATTERNS}, not {pattern!r}")
        self.c, self.pattern = float(c), pattern
        self.a_plus, self.a_minus = float(a_plus), -float(c) * a_plus
        self.b_plus = self.a_plus if b_plus is None else float(b_plus)
        self.b_minus = self.a_minus if b_minus is None else float(b_minus)
        if not (self.b_minus <= self.a_minus < 0 < self.b_plus <= self.a_plus):
            raise ValueError("need b_- <= a_- < 0 < b_+ <= a_+, got "
                             f"{self.bounds}")
        rng = np.random.default_rng(seed)
        if pattern == "constant":
            n_segments = 1
        # |gradient| per segment, outwards from 0, on each side
        self._flat = rng.uniform(self.b_plus, self.a_plus, n_segments) \
            if pattern == "random" else np.array([self.a_plus])
        self._sharp = -rng.uniform(self.b_minus, self.a_minus, n_segments) \
            if pattern == "random" else np.array([-self.a_minus])
        self.spacing = float(spacing) if pattern == "random" else math.inf
        # value at each segment's inner end: cumulative sum of slope x length
        self._flat_v0 = np.concatenate([[0.0], np.cumsum(self._flat[:-1] * spacing)])
        self._sharp_v0 = np.concatenate([[0.0], np.cumsum(self._sharp[:-1] * spacing)])

    @property
    def bounds(self) -> dict:
        return {"b_minus": self.b_minus, "a_minus": self.a_minus,
                "b_plus": self.b_plus, "a_plus": self.a_plus}

    def _segment(self, x, n):
        k = np.floor(x / self.spacing) if math.isfinite(self.spacing) else np.zeros_like(x)
        return np.minimum(k, n - 1).astype(int)

    def grad(self, w):
        w = np.asarray(w, dtype=float)
        x = np.abs(w)
        flat = w >= 0
        g_flat = self._flat[self._segment(x, len(self._flat))]
        g_sharp = -self._sharp[self._segment(x, len(self._sharp))]
        return np.where(flat, g_flat, g_sharp)

    def value(self, w):
        w = np.asarray(w, dtype=float)
        x = np.abs(w)
        out = []
        for slopes, v0 in ((self._flat, self._flat_v0), (self._sharp, self._sharp_v0)):
            k = self._segment(x, len(slopes))
            start = k * self.spacing if math.isfinite(self.spacing) else 0.0
            out.append(v0[k] + slopes[k] * (x - start))
        return np.where(w >= 0, out[0], out[1])

    def __call__(self, w):
        return self.value(w)


def theorem2_conditions(valley: BoundedSlopeValley, noise: float) -> dict:
    """The hypotheses of Theorem 2 (as on the authors' slides) for this valley and noise
    bound ν: b_- <= a_- < 0 < b_+ <= a_+, c = -a_-/a_+ > 1, ν <= a_+, and
    c' = -(b_- - ν)/b_+ < e^{c/3}/6. The last one only holds for c of about 13 or more,
    which is what the theorem's "large c" means."""
    b = valley.bounds
    c = -b["a_minus"] / b["a_plus"]
    c_prime = -(b["b_minus"] - noise) / b["b_plus"]
    limit = math.exp(c / 3) / 6
    out = {"signs": b["b_minus"] <= b["a_minus"] < 0 < b["b_plus"] <= b["a_plus"],
           "asymmetric (c > 1)": c > 1,
           "noise bound ν <= a_+": noise <= b["a_plus"],
           "c' < e^(c/3)/6": c_prime < limit}
    return {"c": c, "c_prime": c_prime, "c_prime_limit": limit, "conditions": out,
            "met": all(out.values())}


@dataclass
class SGDRuns:
    final: np.ndarray        # last iterate of each run, shape (runs,)
    average: np.ndarray      # average iterate of each run (after burn-in), shape (runs,)
    trace: np.ndarray | None  # iterates of the first `keep` runs, shape (steps, keep)
    occupancy: np.ndarray | None = None   # counts of post-burn-in iterates per bin
    edges: np.ndarray | None = None       # bin edges of `occupancy`
    flat_fraction: float | None = None    # share of post-burn-in iterates with w > 0

    def mean_average(self):
        """E[w̄] with a 95% normal confidence interval (mean, lo, hi)."""
        m = self.average.mean()
        half = 1.96 * self.average.std(ddof=1) / np.sqrt(len(self.average))
        return m, m - half, m + half

    def standard_error(self) -> float:
        return float(self.average.std(ddof=1) / np.sqrt(len(self.average)))


def simulate_sgd(valley, lr: float, noise: float, steps: int, runs: int, w0: float = 0.0,
                 burn_in: int = 0, keep: int = 0, seed: int = 0, bins=None) -> SGDRuns:
    """`runs` independent SGD chains on `valley` with noise ω ~ U(-noise, noise).

    `bins` (array of edges) also counts where the post-burn-in iterates sit: the occupancy
    histogram over all runs and steps (iterates outside the edges go to the end bins)."""
    rng = np.random.default_rng(seed)
    w = np.full(runs, float(w0))
    total = np.zeros(runs)
    trace = np.empty((steps, keep)) if keep else None
    edges = None if bins is None else np.asarray(bins, dtype=float)
    counts = None if edges is None else np.zeros(len(edges) - 1, dtype=np.int64)
    flat = 0
    for t in range(steps):
        w = w - lr * (valley.grad(w) + rng.uniform(-noise, noise, size=runs))
        if t >= burn_in:
            total += w
            flat += int(np.count_nonzero(w > 0))
            if counts is not None:
                idx = np.clip(np.searchsorted(edges, w, side="right") - 1, 0, len(counts) - 1)
                counts += np.bincount(idx, minlength=len(counts))
        if keep:
            trace[t] = w[:keep]
    n = (steps - burn_in) * runs
    return SGDRuns(final=w, average=total / (steps - burn_in), trace=trace, occupancy=counts,
                   edges=edges, flat_fraction=flat / n)


def reference_sgd(valley, lr: float, noise: float, steps: int, runs: int, w0: float = 0.0,
                  burn_in: int = 0, seed: int = 0) -> np.ndarray:
    """The same chains as `simulate_sgd`, one scalar at a time in plain Python loops (same
    random numbers): a slow, obviously correct reference for the tests."""
    rng = np.random.default_rng(seed)
    noises = [rng.uniform(-noise, noise, size=runs) for _ in range(steps)]
    averages = []
    for r in range(runs):
        w, total = float(w0), 0.0
        for t in range(steps):
            w = w - lr * (float(valley.grad(w)) + float(noises[t][r]))
            if t >= burn_in:
                total += w
        averages.append(total / (steps - burn_in))
    return np.array(averages)


def quadratic_average_moments(k: float, lr: float, noise: float, steps: int, w0: float,
                              burn_in: int = 0) -> tuple[float, float]:
    """Closed form for SGD on the symmetric quadratic L = k w²/2 with ω ~ U(-ν, ν): the
    chain is linear, w_{t+1} = ρ w_t - η ω_t with ρ = 1 - ηk, so the average of the
    iterates w_{burn_in+1}..w_steps has mean Σ ρ^t w0 / n and a variance summed from the
    noise terms. Returns (E[w̄], Var[w̄])."""
    rho, var_w = 1.0 - lr * k, noise**2 / 3
    ts = np.arange(burn_in + 1, steps + 1)          # w_t after t updates
    n = len(ts)
    mean = float(np.sum(rho ** ts) * w0 / n)
    # w̄ = (1/n) Σ_t Σ_{s<t} ρ^{t-1-s} (-η ω_s): coefficient of ω_s is -η/n Σ_{t>s} ρ^{t-1-s}
    s = np.arange(steps)
    first = np.maximum(ts[0], s + 1)                # first averaged t after noise s
    coef = (rho ** (first - 1 - s) - rho ** (steps - s)) / (1 - rho)
    var = float((lr / n) ** 2 * var_w * np.sum(coef**2))
    return mean, var

