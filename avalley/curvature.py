"""Sharpness of the training loss at a solution: Hessian-vector products, the Hessian's top
eigenvalues (Lanczos) and its trace (Hutchinson), each with its estimation error.

The loss is the mean cross-entropy over a dataset (x, y) with BN in eval mode: the running
statistics are constants, so the loss is one fixed function of the parameters, the same for
every batch split (in train mode each batch would bring its own statistics). Weight decay is
not part of it: with it, every eigenvalue would grow by the decay and the trace by decay × D.

The model must return logits (every classifier of models.py; not the sigmoid neuron).
Vectors are flat over all parameters in `model.named_parameters()` order, like a `Direction`.
H v is computed batch by batch as the derivative of the gradient along v, d/dt ∇L(w + t v) at
t = 0 (forward-mode over reverse-mode: torch.func.jvp of torch.func.grad); the batches' sums
are added and divided by N, so it is the Hessian of the full-data mean loss whatever the batch.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, jvp

from .directions import Direction
from .errors import ParameterError


class Hessian:
    """The Hessian H of the mean training loss at the model's weights, as an operator on flat
    vectors: `H.mv(v)` is H v. The model is copied (in eval mode, in `dtype`), so it is left
    as it is; x stays where it is and goes to the model's device one batch at a time."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 batch_size: int = 500, dtype: torch.dtype = torch.float32):
        if len(x) != len(y) or len(x) == 0:
            raise ParameterError(f"Hessian needs as many labels as inputs, at least one; got "
                                 f"{len(x)} inputs and {len(y)} labels.")
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1; got {batch_size}.")
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is None
               for m in model.modules()):
            raise ParameterError("Hessian: a BN layer keeps no running statistics, so in eval "
                                 "mode it would use each batch's and the loss would depend "
                                 "on the batches.")
        net = copy.deepcopy(model).eval().to(dtype)     # eval: running statistics, no dropout
        if x.dim() == 4:    # images channels-last, as in training.layout: faster convolutions
            net = net.to(memory_format=torch.channels_last)
        self.net, self.x, self.y, self.batch_size, self.dtype = net, x, y, batch_size, dtype
        self.params = {n: p.detach() for n, p in net.named_parameters()}
        self.buffers = {n: b.detach() for n, b in net.named_buffers()}
        self.names = tuple(self.params)
        self.shapes = tuple(p.shape for p in self.params.values())
        self.dim = sum(p.numel() for p in self.params.values())
        self.device = next(iter(self.params.values())).device
        self._grad = grad(self._loss_sum)              # params -> gradient of the summed loss

    def _loss_sum(self, params: dict, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        out = functional_call(self.net, (params, self.buffers), (xb,))
        return F.cross_entropy(out, yb, reduction="sum")

    def _batches(self):
        for i in range(0, len(self.x), self.batch_size):
            xb = self.x[i:i + self.batch_size].to(self.device, self.dtype)
            if xb.dim() == 4:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield xb, self.y[i:i + self.batch_size].to(self.device)

    def _unflatten(self, v: torch.Tensor) -> dict:
        """name -> piece of v shaped, typed and laid out like the parameter (a channels-last
        tangent keeps the convolutions channels-last)."""
        v = v.to(self.device, self.dtype)
        return {n: torch.empty_like(p).copy_(t.view(p.shape)) for (n, p), t in
                zip(self.params.items(), v.split([p.numel() for p in self.params.values()]))}

    def _flatten(self, d: dict) -> torch.Tensor:
        return torch.cat([d[n].reshape(-1).double() for n in self.names])

    def loss(self) -> float:
        """The mean loss itself, L(w)."""
        with torch.no_grad():
            return sum(float(self._loss_sum(self.params, xb, yb))
                       for xb, yb in self._batches()) / len(self.x)

    def gradient(self) -> torch.Tensor:
        """∇L(w), flat float64."""
        return sum(self._flatten(self._grad(self.params, xb, yb))
                   for xb, yb in self._batches()) / len(self.x)

    def mv(self, v: torch.Tensor) -> torch.Tensor:
        """H v for a flat vector v of length dim, as a flat float64 vector on the model's
        device."""
        if v.shape != (self.dim,):
            raise ParameterError(f"Hessian.mv() needs a flat vector of {self.dim} entries; got "
                                 f"shape {tuple(v.shape)}.")
        tangent = self._unflatten(v)
        hv = torch.zeros(self.dim, dtype=torch.float64, device=self.device)
        for xb, yb in self._batches():
            _, h = jvp(lambda p: self._grad(p, xb, yb), (self.params,), (tangent,))
            hv += self._flatten(h)
        return hv / len(self.x)

    def as_direction(self, v: torch.Tensor, **meta) -> Direction:
        """v (e.g. an eigenvector) as a Direction of the model, for line scans."""
        return Direction(v.detach().float().cpu(), self.names, self.shapes, dict(meta))


@dataclass
class Eigenpairs:
    values: list[float]      # the k largest Ritz values, largest first
    residuals: list[float]   # ‖H v − λ v‖ for each unit Ritz vector v (measured)
    vectors: torch.Tensor    # [k, dim] float64, the unit Ritz vectors (signs arbitrary)
    ritz: list[float]        # every Ritz value, ascending: the first approximates the lowest
    steps: int               # Lanczos steps taken (fewer than asked when H is exhausted)
    seed: int
    basis: torch.Tensor | None = None   # [steps, dim] the orthonormal Lanczos basis, if kept


def top_eigenvalues(H, k: int = 1, steps: int = 20, seed: int = 0,
                    keep_basis: bool = False) -> Eigenpairs:
    """The k largest eigenvalues of a symmetric operator (a Hessian, or anything with `dim`
    and `mv(v)`) by `steps` of Lanczos with full reorthogonalization, from a seeded Gaussian
    start: `steps` products H v, plus k more to measure the residuals.

    Error: for a symmetric H and a unit v, some eigenvalue of H lies within r = ‖H v − λ v‖
    of λ (and within r² / gap, once the gap to the other eigenvalues is known). Ritz values
    never exceed the largest eigenvalue, so values[0] is also a lower bound of it; Lanczos
    finds the extreme eigenvalues first, but can miss one its start vector barely touches.
    Memory: the basis holds `steps` float64 vectors of length dim; keep_basis returns it
    (Eigenpairs.basis: orthonormal, spanning every Ritz vector; Qᵀ H Q has trace Σ ritz).
    """
    if not 1 <= k <= steps <= H.dim:
        raise ParameterError(f"top_eigenvalues() needs 1 <= k <= steps <= dim ({H.dim}); got "
                             f"k={k}, steps={steps}.")
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(H.dim, generator=gen, dtype=torch.float64).to(H.device)
    Q = torch.zeros(steps, H.dim, dtype=torch.float64, device=H.device)   # orthonormal basis
    Q[0] = q / q.norm()
    alpha, beta = [], []
    for j in range(steps):
        w = H.mv(Q[j])
        alpha.append(float(Q[j] @ w))
        hq_norm = float(w.norm())
        # w minus its projection on every basis vector (this covers the three-term
        # recurrence w - α_j q_j - β_j-1 q_j-1), twice, to stay orthogonal in floating point
        for _ in range(2):
            w = w - Q[:j + 1].T @ (Q[:j + 1] @ w)
        b = float(w.norm())
        if j == steps - 1 or b <= 1e-10 * hq_norm:   # done, or an invariant subspace: exact
            break
        beta.append(b)
        Q[j + 1] = w / b
    m = len(alpha)
    # H restricted to the Krylov space is the tridiagonal T = Qᵀ H Q
    T = torch.diag(torch.tensor(alpha, dtype=torch.float64))
    if m > 1:
        off = torch.tensor(beta, dtype=torch.float64)
        T += torch.diag(off, 1) + torch.diag(off, -1)
    theta, S = torch.linalg.eigh(T)
    k = min(k, m)
    top = torch.arange(m - 1, m - 1 - k, -1)
    vectors = S[:, top].T.to(H.device) @ Q[:m]
    vectors = vectors / vectors.norm(dim=1, keepdim=True)
    values = [float(theta[i]) for i in top]
    residuals = [float((H.mv(v) - lam * v).norm()) for lam, v in zip(values, vectors)]
    return Eigenpairs(values, residuals, vectors, theta.tolist(), m, seed,
                      Q[:m].clone() if keep_basis else None)


@dataclass
class TraceEstimate:
    mean: float              # Hutchinson's estimate of tr H
    stderr: float            # its standard error: std of the samples / sqrt(probes)
    samples: list[float]     # zᵀ H z for each probe z
    seed: int


def hutchinson_trace(H, probes: int = 30, seed: int = 0) -> TraceEstimate:
    """tr H estimated as the mean of zᵀ H z over `probes` Rademacher vectors z (entries ±1,
    so E[z zᵀ] = I and E[zᵀ H z] = tr H), one product H z each. The probes depend only on
    the seed and dim, so two solutions of one network measured with one seed share them, and
    the difference of their traces has a smaller error than the two errors suggest."""
    if probes < 2:
        raise ParameterError(f"hutchinson_trace() needs at least 2 probes for an error; "
                             f"got {probes}.")
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(probes):
        z = torch.randint(0, 2, (H.dim,), generator=gen, dtype=torch.float64) * 2 - 1
        z = z.to(H.device)
        samples.append(float(z @ H.mv(z)))
    s = torch.tensor(samples, dtype=torch.float64)
    return TraceEstimate(float(s.mean()), float(s.std()) / math.sqrt(probes), samples, seed)


def deflated_trace(H, eig: Eigenpairs, probes: int = 3, seed: int = 0) -> TraceEstimate:
    """tr H with the top of the spectrum taken out of the random part (the idea of Hutch++,
    Meyer et al. 2021, on the Lanczos run `eig` already computed):
    tr H = tr(Vᵀ H V) + tr(P H P), P = I − V Vᵀ, for V orthonormal: the whole Lanczos basis
    when `eig` kept it (top_eigenvalues(..., keep_basis=True)), whose first term is the sum
    of all Ritz values (the trace of T = Vᵀ H V), else the top Ritz vectors, whose first term
    is the sum of their Ritz values (each Ritz value is vᵀ H v). The second is estimated
    by Hutchinson with `probes` Rademacher vectors z projected by P (zᵀ P H P z has mean
    tr(P H P), since E[z zᵀ] = I). Unbiased for any V; its variance is 2‖P H P‖²_F less the
    diagonal, so removing the few large outlying eigenvalues of a network's Hessian, which
    dominate ‖H‖_F, shrinks the error at no extra cost. `samples` are the full per-probe
    estimates Σθ + zᵀ P H P z, and `stderr` their standard error. Same seed, same probes,
    as in `hutchinson_trace`."""
    if probes < 2:
        raise ParameterError(f"deflated_trace() needs at least 2 probes for an error; "
                             f"got {probes}.")
    whole = eig.basis is not None
    V = (eig.basis if whole else eig.vectors).to(H.device, torch.float64)
    if V.shape[1] != H.dim:
        raise ParameterError("deflated_trace(): the Ritz vectors belong to another operator "
                             f"({V.shape[1]} entries, not {H.dim}).")
    known = float(sum(eig.ritz) if whole else sum(eig.values))
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(probes):
        z = torch.randint(0, 2, (H.dim,), generator=gen, dtype=torch.float64) * 2 - 1
        z = z.to(H.device)
        z = z - V.T @ (V @ z)
        samples.append(known + float(z @ H.mv(z)))
    s = torch.tensor(samples, dtype=torch.float64)
    return TraceEstimate(float(s.mean()), float(s.std()) / math.sqrt(probes), samples, seed)
