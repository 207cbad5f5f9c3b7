"""Theorem 2 by simulation: 1-D SGD w <- w - η(∇L(w) + ω) with bounded noise, many
independent runs at once (vectorized over runs), and the average of the iterates.

Besides the valleys of `avalley.valleys`, the theorem's own setting is here: a
piecewise-linear valley whose gradient lies in [b_+, a_+] on the flat side (w >= 0) and in
[b_-, a_-] on the sharp side (w < 0), with the theorem's conditions checked for each setting,
and the chain's stationary law computed without simulation (a closed form for constant slopes,
the transition operator on a grid for any slopes) to check the simulation against.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.sparse.linalg

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


# --- Theorem 2 without simulation: the chain's stationary distribution -------------------
#
# The SGD chain of `simulate_sgd` is a 1-D Markov chain: from w the next iterate is uniform on
# w - η g(w) ± ην. Two computations of its stationary law that use neither random numbers nor
# the simulator: a closed form for constant slopes, and the transition operator on a grid for
# any BoundedSlopeValley.


def _constant_slope_circle(valley: BoundedSlopeValley, noise: float) -> float:
    """ℓ/η = (1 + c)a_+, the circle of `constant_slope_mean`, after checking its conditions."""
    if valley.pattern != "constant":
        raise ValueError("the closed form needs constant slopes, not pattern "
                         f"{valley.pattern!r}; use stationary_distribution")
    if not 0 < noise <= min(valley.a_plus, -valley.a_minus):
        raise ValueError(f"the closed form needs 0 < ν <= min(a_+, c a_+), got ν = {noise}")
    return valley.a_plus - valley.a_minus


def constant_slope_mean(valley: BoundedSlopeValley, lr: float, noise: float) -> float:
    """Stationary E[w] of the SGD chain on a constant-slope valley, in closed form:
    η(c - 1)a_+/2, whenever ν <= a_+ and ν <= c a_+ (Theorem 2's noise bound, with c >= 1).

    Why: the two drifts, -η a_+ for w >= 0 and +η c a_+ for w < 0, differ by ℓ = η(1 + c)a_+,
    so modulo ℓ the chain is a rotation of the circle I = [-η a_+, η c a_+) by -η a_+ plus
    the noise, and the uniform law on I is stationary for it. With ν within the bounds, the
    drift step from anywhere the chain can be lands in I itself, so in stationarity
    w_{t+1} = (uniform on I) - ηω_t: the stationary law is that uniform convolved with
    U(-ην, ην), a trapezoid with mean the centre of I and flat-side share c/(1 + c). Neither
    depends on ν. (E[g(w)] = 0, from E[w_{t+1}] = E[w_t], gives the share for any ν.)"""
    _constant_slope_circle(valley, noise)
    return lr * (valley.c - 1) * valley.a_plus / 2


def relaxation_steps(valley: BoundedSlopeValley, noise: float) -> float:
    """Steps in which a constant-slope chain forgets its start by a factor e: the slowest mode
    of the circle chain of `constant_slope_mean` shrinks by |sinc(2πν/((1 + c)a_+))| per step
    (the noise's characteristic function at the circle's first frequency), so
    τ = -1/log|sinc(2πν/((1 + c)a_+))|: 5 steps at c = 5, 67 at c = 20, 255 at c = 40 with
    ν = a_+, whatever η. Inside that envelope E[w_t] oscillates with a period of c + 1 steps."""
    x = 2 * math.pi * noise / _constant_slope_circle(valley, noise)
    return -1 / math.log(abs(math.sin(x) / x))


@dataclass
class Stationary:
    edges: np.ndarray     # cell edges, multiples of the cell width (so 0 is an edge)
    mass: np.ndarray      # stationary probability of each cell
    mean: float           # stationary E[w]
    flat_share: float     # stationary mass on the flat side w > 0

    @property
    def centres(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2

    @property
    def density(self) -> np.ndarray:
        return self.mass / np.diff(self.edges)


def _tail_rate(lr: float, noise: float, pull: float) -> float:
    """Decay rate θ of the stationary tail where the gradient pulls back by at least `pull`
    but the noise can step outwards (ν > pull): the root of E[exp(θΔ)] = 1 for the step
    Δ = -η(pull + ω) (Lundberg's bound: such a walk ever gets x above its start with
    probability at most e^(-θx))."""
    def log_mgf(s):            # s = θη: log E[exp(-s(pull + ω))] = log(sinh(sν)/(sν)) - s pull
        x = s * noise
        log_sinhc = x * x / 6 if x < 1e-3 else x + math.log1p(-math.exp(-2 * x)) - math.log(2 * x)
        return log_sinhc - s * pull
    lo = 3 * pull / noise**2     # log(sinh x / x) <= x²/6, so log_mgf < 0 up to 6 pull/ν²
    hi = 2 * lo
    while log_mgf(hi) <= 0:
        hi *= 2
    return scipy.optimize.brentq(log_mgf, lo, hi) / lr


def chain_grid(valley: BoundedSlopeValley, lr: float, noise: float, resolution: int = 50,
               tail: float = 1e-12) -> np.ndarray:
    """Cell edges for the chain's stationary law: cells of width h = ην/resolution (shrunk to
    divide a "random" valley's segment length, so the gradient is constant in each cell),
    aligned at 0.

    The range comes from the dynamics. From w >= 0 a step lands no lower than -η(a_+ + ν);
    from w < 0 it lands no higher than η(|b_-| + ν). If ν <= |a_-|, a step from the sharp side
    never goes down, and if ν <= b_+ a step from the flat side never goes up, so then
    [-η(a_+ + ν), η(|b_-| + ν)] holds all the mass (the constant valleys with ν = a_+). If
    not, the chain can wander outwards against a pull of at least |a_-| (below) or b_+ (above),
    with a tail that decays as e^(-θx) (`_tail_rate`), and the range extends by
    log(1/tail)/θ beyond the farthest start of such a walk."""
    if not isinstance(valley, BoundedSlopeValley):
        raise ValueError("the chain's grid needs a BoundedSlopeValley (piecewise-constant "
                         f"gradient with known kinks), not {type(valley).__name__}")
    if lr <= 0 or noise <= 0:
        raise ValueError(f"need lr > 0 and noise > 0, got lr = {lr}, noise = {noise}")
    b = valley.bounds
    lo, hi = -lr * (b["a_plus"] + noise), lr * (-b["b_minus"] + noise)
    if noise > -b["a_minus"]:
        lo -= lr * (noise + b["a_minus"]) + math.log(1 / tail) / _tail_rate(lr, noise,
                                                                             -b["a_minus"])
    if noise > b["b_plus"]:
        hi += lr * (noise - b["b_plus"]) + math.log(1 / tail) / _tail_rate(lr, noise,
                                                                           b["b_plus"])
    h = lr * noise / resolution
    if math.isfinite(valley.spacing):
        h = valley.spacing / math.ceil(valley.spacing / h)
    return h * np.arange(math.floor(lo / h), math.ceil(hi / h) + 1)


def _uniform_sum_cdf(z, y0, h, r):
    """P(Y + U <= z) for Y ~ U(y0, y0 + h) and U ~ U(-r, r), exactly: the integral over y of
    P(U <= z - y), through the antiderivative R of clip(t, 0, 2r)."""
    def R(t):
        t = np.clip(t, 0.0, None)
        return np.where(t <= 2 * r, t * t / 2, 2 * r * t - 2 * r * r)
    return (R(z - y0 + r) - R(z - y0 - h + r)) / (2 * r * h)


def transition_matrix(valley: BoundedSlopeValley, lr: float, noise: float,
                      edges: np.ndarray) -> scipy.sparse.csr_matrix:
    """Row-stochastic T[j, i]: the probability that an iterate spread uniformly over cell j
    of `chain_grid` lands in cell i. The gradient is constant in a cell, so the cell moves
    rigidly by -η g and then spreads by U(-ην, ην): the landing density is a trapezoid, whose
    mass on each cell is integrated exactly (`_uniform_sum_cdf`). Mass landing beyond the
    grid (at most the `tail` of `chain_grid`) goes to the end cells."""
    n, h, r = len(edges) - 1, edges[1] - edges[0], lr * noise
    y0 = edges[:-1] - lr * valley.grad((edges[:-1] + edges[1:]) / 2)   # cells after the drift
    first = np.floor((y0 - r - edges[0]) / h).astype(int)              # first cell reached
    cols = first[:, None] + np.arange(math.ceil((h + 2 * r) / h) + 2)  # all cells reached
    cdf = _uniform_sum_cdf(edges[0] + h * np.concatenate([cols, cols[:, -1:] + 1], axis=1),
                           y0[:, None], h, r)
    rows = np.broadcast_to(np.arange(n)[:, None], cols.shape)
    # clipped columns repeat and their entries add up, so every row still sums to 1
    return scipy.sparse.csr_matrix((np.diff(cdf, axis=1).ravel(),
                                    (rows.ravel(), np.clip(cols, 0, n - 1).ravel())),
                                   shape=(n, n))


def stationary_distribution(valley: BoundedSlopeValley, lr: float, noise: float,
                            resolution: int = 50, tail: float = 1e-12) -> Stationary:
    """The stationary law of the SGD chain of `simulate_sgd` on `valley`, from its transition
    operator on a grid (`chain_grid`, `transition_matrix`) by a sparse linear solve of
    π T = π, Σ π = 1. Both patterns: a "random" valley's gradient is constant on each
    segment, and the grid is aligned with the segments.

    Discretization error: Ulam's method holds the density uniform within each cell of width
    h = ην/resolution, so the mean is off by O(h²). On constant slopes with ν <= a_+ the true
    density is piecewise linear (`constant_slope_mean`) and the grid's mean is exact to
    round-off at any resolution; on the book's random valleys (c = 2 to 40) the mean at
    resolution 50 (h = 0.001) is within 1e-6 of the converged one (9e-7 at c = 2, 4e-8 at
    c = 40, from the differences between resolutions 12 to 200, which shrink about 4 times
    per halving), against 95% half-widths of 3e-5 to 1e-3 in the book's simulation. At
    c = 40 it takes ~0.3-0.5 s.

    Finite runs: simulate_sgd's E[w̄] averages w_{burn_in+1}..w_steps of chains started at
    w0. E[w_t] tends to the stationary mean geometrically, so E[w̄] tends to it as burn_in
    and steps grow, off by the transient left after burn_in divided by steps - burn_in. On
    steep valleys the transient is slow (`relaxation_steps`: 255 steps at c = 40): at the
    book's settings (w0 = 0, 100 of 1000 steps burnt) E[w̄] is 2.6e-3 below the stationary
    mean at c = 40 (4.2e-3 with random slopes), ten times the simulation's half-width, and
    within 1.1e-4 of it for c <= 20. `expected_average` gives the finite-run E[w̄] on the
    same grid."""
    edges = chain_grid(valley, lr, noise, resolution, tail)
    TT = transition_matrix(valley, lr, noise, edges).T.tocsr()
    n = TT.shape[0]
    # (I - T^T) π = 0 is singular: fix π = 1 on the cell just above 0 (always visited), solve
    # for the others, then normalize
    k = int(np.searchsorted(edges, 0.0))
    others = np.r_[0:k, k + 1:n]
    A = (scipy.sparse.identity(n, format="csr") - TT)[others][:, others]
    pi = np.ones(n)
    pi[others] = scipy.sparse.linalg.spsolve(A.tocsc(), TT[others][:, [k]].toarray().ravel())
    pi = np.clip(pi, 0.0, None)      # round-off below 0 in cells the chain never reaches
    pi /= pi.sum()
    centres = (edges[:-1] + edges[1:]) / 2
    return Stationary(edges=edges, mass=pi, mean=float(pi @ centres),
                      flat_share=float(pi[edges[:-1] >= 0].sum()))


def expected_average(valley: BoundedSlopeValley, lr: float, noise: float, steps: int,
                     w0: float = 0.0, burn_in: int = 0, resolution: int = 50,
                     tail: float = 1e-12) -> float:
    """The finite-run E[w̄] that `simulate_sgd` estimates (chains started at w0, iterates
    w_{burn_in+1}..w_steps averaged), by carrying the law of w_t through the transition
    matrix of `stationary_distribution`: set against the stationary mean, the bias left by
    the burn-in. ~0.5 s for 1000 steps at c = 40."""
    edges = chain_grid(valley, lr, noise, resolution, tail)
    h = edges[1] - edges[0]
    edges = h * np.arange(min(round(edges[0] / h), math.floor(w0 / h)),   # w0 on the grid
                          max(round(edges[-1] / h), math.ceil(w0 / h) + 1) + 1)
    TT = transition_matrix(valley, lr, noise, edges).T.tocsr()
    centres = (edges[:-1] + edges[1:]) / 2
    # w_1 exactly: uniform on w0 - η g(w0) ± ην
    y = w0 - lr * float(valley.grad(w0))
    p = np.diff(np.clip((edges - (y - lr * noise)) / (2 * lr * noise), 0.0, 1.0))
    total = 0.0
    for t in range(1, steps + 1):
        if t > burn_in:
            total += p @ centres
        p = TT @ p
    return total / (steps - burn_in)


def agrees(sim: SGDRuns, reference_mean: float) -> tuple[bool, float]:
    """Whether a simulation agrees with a reference E[w̄]: the reference lies inside the
    simulation's 95% interval (`SGDRuns.mean_average`). Also returns z, the simulated mean's
    distance from the reference in standard errors (agreement is |z| <= 1.96)."""
    m, lo, hi = sim.mean_average()
    return bool(lo <= reference_mean <= hi), float((m - reference_mean) / sim.standard_error())
