"""The paper's smallest model: one sigmoid neuron (weight and bias) on 1-D data, BCE loss.

Follows the public script `logistic_regression_2params.py` of the paper's code: per seed,
`torch.manual_seed(seed)`, 10 points from N(+1, 1) labelled 0 and 10 from N(−1, 1) labelled 1,
a `Linear(1, 1)` initialized by torch's default (a second one is created and discarded, as
the script's averaged copy is, so the random direction comes from the same stream), full-batch
GD at lr 0.01 with a running average of the iterates, and the direction `torch.rand(2)`
normalized to unit length. Everything is float64 and the loss is BCE on logits (the script's
sigmoid-then-log saturates far from the centre).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

N_PER_CLASS = 10


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
