"""Directions in weight space: random ones (several kinds, on a parameter subset) and the one
between two solutions.

A `Direction` is a flat float32 vector over *all* parameters of a model, in the order of
`model.named_parameters()` (entries outside the chosen subset are zero), plus a `meta`
dict saying how it was made. BN running statistics (running_mean, running_var,
num_batches_tracked) are buffers, not parameters, so they are never part of a direction:
they are statistics of the data at a point, and the landscape engine's `bn_mode` decides
what they are at each point.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from .errors import ParameterError

KINDS = ("uniform", "gaussian", "filter", "layer")
SUBSETS = ("all", "bn", "non-bn")
# unit: the vector has L2 norm 1; weights: filter/layer pieces (or the whole vector, for
# uniform/gaussian) have the norm of the matching weights (Li et al. 2018); none: raw draws.
NORMALIZATIONS = ("unit", "weights", "none")


@dataclass
class Direction:
    vec: torch.Tensor                 # flat float32, on the CPU
    names: tuple[str, ...]            # parameter names, in vec's order
    shapes: tuple[torch.Size, ...]
    meta: dict = field(default_factory=dict)

    @property
    def norm(self) -> float:
        return float(self.vec.norm())

    def as_dict(self) -> dict[str, torch.Tensor]:
        """name -> tensor view of vec, shaped like the parameter."""
        sizes = [s.numel() for s in self.shapes]
        return {n: t.view(s) for n, t, s in
                zip(self.names, self.vec.split(sizes), self.shapes)}


def flat_params(model: nn.Module) -> torch.Tensor:
    """The model's parameters as one flat float32 CPU vector (a copy)."""
    return torch.cat([p.detach().reshape(-1).float().cpu() for p in model.parameters()])


def bn_parameter_names(model: nn.Module) -> set[str]:
    """Names of the affine parameters (weight, bias) of every BatchNorm layer."""
    return {f"{mod_name}.{p_name}" if mod_name else p_name
            for mod_name, mod in model.named_modules()
            if isinstance(mod, nn.modules.batchnorm._BatchNorm)
            for p_name, _ in mod.named_parameters(recurse=False)}


def subset_mask(model: nn.Module, subset: str = "all") -> dict[str, bool]:
    """name -> whether the parameter belongs to the subset."""
    if subset not in SUBSETS:
        raise ParameterError(f"Unknown subset {subset!r}. Valid subsets: {', '.join(SUBSETS)}.")
    bn = bn_parameter_names(model)
    return {n: subset == "all" or ((n in bn) == (subset == "bn"))
            for n, _ in model.named_parameters()}


def _rescale(d: torch.Tensor, w: torch.Tensor, kind: str) -> torch.Tensor:
    """Li et al. 2018: each filter (row along dim 0) or the whole layer gets the weights' norm.
    1-D tensors (biases, BN weight and bias) are rescaled as a whole under both kinds; Li et
    al. zero them instead, but here BN parameters are a subset under study."""
    if kind == "filter" and d.dim() > 1:
        dn = d.flatten(1).norm(dim=1).view(-1, *[1] * (d.dim() - 1))
        wn = w.flatten(1).norm(dim=1).view_as(dn)
        return d * wn / (dn + 1e-10)
    return d * w.norm() / (d.norm() + 1e-10)


def random_direction(model: nn.Module, kind: str = "uniform", subset: str = "all",
                     seed: int = 0, normalize: str | None = None) -> Direction:
    """A seeded random direction over the parameters of `subset`.

    kind: uniform = entries U(0, 1) as in the paper (all positive); gaussian = N(0, 1);
    filter / layer = N(0, 1) rescaled filter- or layer-wise to the weights' norms.
    normalize: None picks "unit" for uniform/gaussian and "weights" for filter/layer.
    Draws use a CPU generator, so a seed gives the same direction on every device.
    """
    if kind not in KINDS:
        raise ParameterError(f"Unknown direction kind {kind!r}. Valid kinds: {', '.join(KINDS)}.")
    normalize = normalize or ("unit" if kind in ("uniform", "gaussian") else "weights")
    if normalize not in NORMALIZATIONS or (kind in ("filter", "layer") and normalize == "none"):
        valid = NORMALIZATIONS if kind in ("uniform", "gaussian") else ("unit", "weights")
        raise ParameterError(f"Normalization {normalize!r} does not apply to kind {kind!r}. "
                             f"Valid: {', '.join(valid)}.")
    mask = subset_mask(model, subset)
    if not any(mask.values()):
        raise ParameterError(f"The model has no parameters in subset {subset!r}.")
    gen = torch.Generator().manual_seed(seed)
    pieces, names, shapes = [], [], []
    for name, p in model.named_parameters():
        w = p.detach().float().cpu()
        # draw for every parameter, so a seed gives the same entries whatever the subset
        d = torch.rand(w.shape, generator=gen) if kind == "uniform" else \
            torch.randn(w.shape, generator=gen)
        if kind in ("filter", "layer"):
            d = _rescale(d, w, kind)
        pieces.append(d.reshape(-1) if mask[name] else torch.zeros(w.numel()))
        names.append(name)
        shapes.append(w.shape)
    vec = torch.cat(pieces)
    w_norm = float(torch.cat([p.detach().float().cpu().reshape(-1)
                              for n, p in model.named_parameters() if mask[n]]).norm())
    if normalize == "unit":
        vec = vec / vec.norm()
    elif normalize == "weights" and kind in ("uniform", "gaussian"):
        vec = vec * (w_norm / vec.norm())
    meta = {"kind": kind, "subset": subset, "seed": seed, "normalize": normalize,
            "norm": float(vec.norm()), "weights_norm": w_norm,
            "n_params": vec.numel(),
            "n_subset_params": sum(s.numel() for n, s in zip(names, shapes) if mask[n])}
    return Direction(vec, tuple(names), tuple(shapes), meta)


def between(model_a: nn.Module, model_b: nn.Module) -> Direction:
    """w_b - w_a over all parameters, unnormalized: w_a + 1·u = w_b (e.g. SWA -> SGD)."""
    a, b = dict(model_a.named_parameters()), dict(model_b.named_parameters())
    if list(a) != list(b) or any(a[n].shape != b[n].shape for n in a):
        raise ParameterError("between(): the two models have different parameters; pass the "
                             "bare networks (an AveragedModel's `.module`).")
    vec = flat_params(model_b) - flat_params(model_a)
    meta = {"kind": "between", "subset": "all", "seed": None, "normalize": "none",
            "norm": float(vec.norm()), "weights_norm": float(flat_params(model_a).norm())}
    return Direction(vec, tuple(a), tuple(p.shape for p in a.values()), meta)


def orthogonalize(v: Direction, u: Direction) -> Direction:
    """v without its component along u, rescaled to unit length: with a unit u, the axes of
    the plane w + a·u + b·v are then orthonormal (a and b are distances)."""
    if v.names != u.names:
        raise ParameterError("orthogonalize(): the two directions belong to different models.")
    uu = u.vec / u.vec.norm()
    vec = v.vec - (v.vec @ uu) * uu
    if float(vec.norm()) < 1e-6 * float(v.vec.norm()):
        raise ParameterError("orthogonalize(): v is parallel to u.")
    vec = vec / vec.norm()
    return Direction(vec, v.names, v.shapes,
                     {**v.meta, "normalize": "unit", "norm": 1.0,
                      "orthogonal_to": {k: u.meta.get(k) for k in ("kind", "subset", "seed")}})
