"""Directions in weight space: random ones (several kinds, on a parameter subset), sign-matched
ones (Li et al. 2024), the one between two solutions, and the cosines between many of them.

A `Direction` is a flat float32 vector over *all* parameters of a model, in the order of
`model.named_parameters()` (entries outside the chosen subset are zero), plus a `meta`
dict saying how it was made. BN running statistics (running_mean, running_var,
num_batches_tracked) are buffers, not parameters, so they are never part of a direction:
they are statistics of the data at a point, and the landscape engine's `bn_mode` decides
what they are at each point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from .errors import ParameterError

KINDS = ("uniform", "gaussian", "filter", "layer", "uniform-centred", "laplace")
# noise symmetric about 0, whose signs sign_matched() may set
CENTRED = ("gaussian", "uniform-centred", "laplace")
# parameter groups: all; BN affine parameters (bn), their scales γ (bn-weight) or shifts β
# (bn-bias); everything but BN (non-bn); the weights of every convolution (conv, biases
# excluded); the classifier = weight and bias of the last nn.Linear in module order
SUBSETS = ("all", "bn", "non-bn", "bn-weight", "bn-bias", "conv", "classifier")
# unit: the vector has L2 norm 1; weights: filter/layer pieces (or the whole vector, for
# uniform/gaussian) have the norm of the matching weights (Li et al. 2018); none: raw draws.
NORMALIZATIONS = ("unit", "weights", "none")
_BN = nn.modules.batchnorm._BatchNorm


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


def _names(model: nn.Module, types, which=("weight", "bias")) -> set[str]:
    """Names of the parameters called `which` of every module of type `types`."""
    return {f"{mod_name}.{p_name}" if mod_name else p_name
            for mod_name, mod in model.named_modules() if isinstance(mod, types)
            for p_name, _ in mod.named_parameters(recurse=False) if p_name in which}


def bn_parameter_names(model: nn.Module) -> set[str]:
    """Names of the affine parameters (weight, bias) of every BatchNorm layer."""
    return _names(model, _BN)


def _group(model: nn.Module, subset: str) -> set[str]:
    """Names of the parameters in `subset` (a valid name of SUBSETS)."""
    names = {n for n, _ in model.named_parameters()}
    bn, conv = _BN, nn.modules.conv._ConvNd
    if subset == "classifier":
        # the last nn.Linear registered: the output layer of every net in models.py
        linears = [mod_name for mod_name, mod in model.named_modules()
                   if isinstance(mod, nn.Linear)]
        return {n for n in names if linears and n.rpartition(".")[0] == linears[-1]}
    return {"all": names, "bn": _names(model, bn), "non-bn": names - _names(model, bn),
            "bn-weight": _names(model, bn, ("weight",)), "bn-bias": _names(model, bn, ("bias",)),
            "conv": _names(model, conv, ("weight",))}[subset]


_LACKS = {"bn": "BatchNorm layers with affine parameters", "bn-weight": "BN scales",
          "bn-bias": "BN shifts", "conv": "convolution layers", "classifier": "nn.Linear layer"}


def subset_mask(model: nn.Module, subset: str = "all") -> dict[str, bool]:
    """name -> whether the parameter belongs to the subset (see SUBSETS). A subset the model
    lacks (bn on a net without BN, conv on an MLP, ...) is an error."""
    if subset not in SUBSETS:
        raise ParameterError(f"Unknown subset {subset!r}. Valid subsets: {', '.join(SUBSETS)}.")
    chosen = _group(model, subset)
    if not chosen:
        lacks = _LACKS.get(subset, "parameters in it")
        raise ParameterError(f"Subset {subset!r} is empty: the model "
                             f"({type(model).__name__}) has no {lacks}.")
    return {n: n in chosen for n, _ in model.named_parameters()}


def _rescale(d: torch.Tensor, w: torch.Tensor, kind: str) -> torch.Tensor:
    """Li et al. 2018: each filter (row along dim 0) or the whole layer gets the weights' norm.
    1-D tensors (biases, BN weight and bias) are rescaled as a whole under both kinds; Li et
    al. zero them instead, but here BN parameters are a subset under study."""
    if kind == "filter" and d.dim() > 1:
        dn = d.flatten(1).norm(dim=1).view(-1, *[1] * (d.dim() - 1))
        wn = w.flatten(1).norm(dim=1).view_as(dn)
        return d * wn / (dn + 1e-10)
    return d * w.norm() / (d.norm() + 1e-10)


def _draw(kind: str, shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
    if kind == "uniform":
        return torch.rand(shape, generator=gen)
    if kind == "uniform-centred":
        return 2 * torch.rand(shape, generator=gen) - 1
    if kind == "laplace":   # Laplace(0, 1) is the difference of two Exp(1) draws
        return (torch.empty(shape).exponential_(generator=gen)
                - torch.empty(shape).exponential_(generator=gen))
    return torch.randn(shape, generator=gen)


def random_direction(model: nn.Module, kind: str = "uniform", subset: str = "all",
                     seed: int = 0, normalize: str | None = None) -> Direction:
    """A seeded random direction over the parameters of `subset`.

    kind: uniform = entries U(0, 1) as in the paper (all positive); gaussian = N(0, 1);
    uniform-centred = U(-1, 1); laplace = Laplace(0, 1) (density e^-|x| / 2);
    filter / layer = N(0, 1) rescaled filter- or layer-wise to the weights' norms.
    normalize: None picks "unit" for uniform/gaussian/uniform-centred/laplace and "weights"
    for filter/layer.
    Draws use a CPU generator, so a seed gives the same direction on every device.
    """
    if kind not in KINDS:
        raise ParameterError(f"Unknown direction kind {kind!r}. Valid kinds: {', '.join(KINDS)}.")
    plain = kind not in ("filter", "layer")
    normalize = normalize or ("unit" if plain else "weights")
    if normalize not in NORMALIZATIONS or (not plain and normalize == "none"):
        valid = NORMALIZATIONS if plain else ("unit", "weights")
        raise ParameterError(f"Normalization {normalize!r} does not apply to kind {kind!r}. "
                             f"Valid: {', '.join(valid)}.")
    mask = subset_mask(model, subset)
    gen = torch.Generator().manual_seed(seed)
    pieces, names, shapes = [], [], []
    for name, p in model.named_parameters():
        w = p.detach().float().cpu()
        # draw for every parameter, so a seed gives the same entries whatever the subset
        d = _draw(kind, w.shape, gen)
        if not plain:
            d = _rescale(d, w, kind)
        pieces.append(d.reshape(-1) if mask[name] else torch.zeros(w.numel()))
        names.append(name)
        shapes.append(w.shape)
    vec = torch.cat(pieces)
    w_norm = float(torch.cat([p.detach().float().cpu().reshape(-1)
                              for n, p in model.named_parameters() if mask[n]]).norm())
    if normalize == "unit":
        vec = vec / vec.norm()
    elif normalize == "weights" and plain:
        vec = vec * (w_norm / vec.norm())
    meta = {"kind": kind, "subset": subset, "seed": seed, "normalize": normalize,
            "norm": float(vec.norm()), "weights_norm": w_norm,
            "n_params": vec.numel(),
            "n_subset_params": sum(s.numel() for n, s in zip(names, shapes) if mask[n])}
    return Direction(vec, tuple(names), tuple(shapes), meta)


def _flat_mask(d: Direction, mask: dict[str, bool]) -> torch.Tensor:
    """The per-parameter mask spread over the entries of d.vec."""
    return torch.cat([torch.full((s.numel(),), mask[n]) for n, s in zip(d.names, d.shapes)])


def sign_matched(model: nn.Module, noise: str = "gaussian", rho: float = 1.0,
                 subset: str = "all", seed: int = 0, normalize: str = "unit") -> Direction:
    """Centred noise on `subset` whose signs agree with the weights' signs on a fraction `rho`
    of the entries (Li et al. 2024): rho = 1 is the noise with its signs replaced by the
    weights' signs, rho = 0 has every sign opposite, and plain noise agrees on about half.

    The magnitudes |ε| are those of random_direction(model, noise, subset, seed) (same seed,
    same |ε|, whatever rho). Of the n entries of the subset whose weight is not 0, exactly
    k = floor(rho·n + 1/2) get |ε|·sign(w) and the others -|ε|·sign(w); which ones is set by
    a seeded permutation, the same for every rho, so for one seed the agreeing sets are nested
    and a sweep over rho only flips signs.
    A weight that is exactly 0 has no sign to agree with: its entry keeps the noise's own
    sign and is not counted in n. (BN shifts and biases start at 0: on an untrained net the
    bn-bias direction is plain noise, and its agreement is None.)
    noise: one of CENTRED. normalize: unit (L2 norm 1); weights (the norm of the subset's
    weights); filter / layer (each filter or layer gets its weights' norm, Li et al. 2018;
    the factors are positive, so signs are kept); none (raw |ε|).
    meta: kind "sign-matched", noise, rho, subset, seed, normalize, n_signed (n), n_agree
    (k), agreement (the fraction measured on the result: k/n unless a draw is exactly 0),
    n_zero_weights.
    """
    if noise not in CENTRED:
        raise ParameterError(f"sign_matched() needs noise centred on 0; got {noise!r}. "
                             f"Valid: {', '.join(CENTRED)}.")
    if not 0 <= rho <= 1:
        raise ParameterError(f"rho is a fraction of entries, in [0, 1]; got {rho}.")
    valid = ("unit", "weights", "filter", "layer", "none")
    if normalize not in valid:
        raise ParameterError(f"Unknown normalization {normalize!r} for sign_matched(). "
                             f"Valid: {', '.join(valid)}.")
    mask = subset_mask(model, subset)
    raw = random_direction(model, noise, subset, seed, normalize="none")
    w = flat_params(model)
    in_group = _flat_mask(raw, mask)
    signed = (in_group & (w != 0)).nonzero().squeeze(1)
    n = len(signed)
    k = math.floor(rho * n + 0.5)
    # which entries agree comes from a second stream, so that it is independent of the
    # magnitudes (torch seeds its generator with the seed's low 32 bits)
    gen = torch.Generator().manual_seed((seed + 2 ** 31) % 2 ** 32)
    agree = torch.full((n,), -1.0)
    agree[torch.randperm(n, generator=gen)[:k]] = 1.0
    vec = raw.vec.clone()
    vec[signed] = raw.vec[signed].abs() * torch.sign(w[signed]) * agree
    if normalize in ("filter", "layer"):
        weights = dict(model.named_parameters())
        pieces = Direction(vec, raw.names, raw.shapes).as_dict()
        vec = torch.cat([_rescale(t, weights[n].detach().float().cpu(), normalize).reshape(-1)
                         for n, t in pieces.items()])
    w_norm = float(w[in_group].norm())
    if normalize == "unit":
        vec = vec / vec.norm()
    elif normalize == "weights":
        vec = vec * (w_norm / vec.norm())
    if float(vec.norm()) == 0:
        raise ParameterError(f"The weights of subset {subset!r} are all 0, so a direction "
                             f"scaled to them is 0; use normalize='unit'.")
    d = Direction(vec, raw.names, raw.shapes)
    d.meta = {"kind": "sign-matched", "noise": noise, "rho": rho, "subset": subset,
              "seed": seed, "normalize": normalize, "norm": d.norm, "weights_norm": w_norm,
              "n_params": vec.numel(), "n_subset_params": int(in_group.sum()),
              "n_signed": n, "n_agree": k, "agreement": sign_agreement(d, model, subset),
              "n_zero_weights": int(in_group.sum()) - n}
    return d


def sign_agreement(direction: Direction, model: nn.Module, subset: str = "all") -> float | None:
    """The fraction of the entries of `subset` with a nonzero weight where the direction has
    the weight's sign (an entry of the direction that is 0 does not agree). None when every
    weight of the subset is 0. Plain centred noise gives about 1/2; the paper's U(0, 1)
    directions give the fraction of positive weights."""
    if direction.names != tuple(n for n, _ in model.named_parameters()):
        raise ParameterError("sign_agreement(): the direction belongs to another model.")
    mask = subset_mask(model, subset)
    keep = _flat_mask(direction, mask)
    w, d = flat_params(model)[keep], direction.vec[keep]
    signed = w != 0
    if not signed.any():
        return None
    return float((torch.sign(d[signed]) == torch.sign(w[signed])).double().mean())


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


@dataclass
class Cosines:
    """Cosines between m vectors, as an [m, m] float64 matrix with ones on the diagonal."""
    matrix: torch.Tensor

    @property
    def upper(self) -> torch.Tensor:
        """The m(m-1)/2 cosines of the distinct pairs i < j, row by row."""
        i, j = torch.triu_indices(len(self.matrix), len(self.matrix), 1)
        return self.matrix[i, j]

    def summary(self) -> dict:
        """Mean, std, min and max over the pairs, and the participation ratio m² / ‖C‖²_F =
        (Σλ)² / Σλ² of the cosine matrix's eigenvalues: m for orthogonal vectors, 1 for
        parallel ones, about 1/c² for many vectors with cosine c between every pair. It is
        the number of orthogonal directions the vectors effectively span."""
        c, m = self.upper, len(self.matrix)
        return {"n_vectors": m, "n_pairs": len(c), "mean": float(c.mean()),
                "std": float(c.std()) if len(c) > 1 else 0.0, "min": float(c.min()),
                "max": float(c.max()),
                "participation_ratio": float(m ** 2 / (self.matrix ** 2).sum())}


def pairwise_cosines(vectors, max_bytes: int = 2 ** 28) -> Cosines:
    """The cosines between every pair of `vectors` (Directions or tensors of one length).

    The Gram matrix is accumulated (in float64) over blocks of columns of all the vectors at
    once, so besides the vectors themselves it needs about `max_bytes`, however many and long.
    """
    vs = [(v.vec if isinstance(v, Direction) else v).reshape(-1) for v in vectors]
    if len(vs) < 2:
        raise ParameterError(f"pairwise_cosines() needs at least 2 vectors; got {len(vs)}.")
    dim, m = vs[0].numel(), len(vs)
    if any(v.numel() != dim for v in vs):
        raise ParameterError("pairwise_cosines(): the vectors have different lengths.")
    step = max(1, max_bytes // (8 * m))
    gram = torch.zeros(m, m, dtype=torch.float64)
    for start in range(0, dim, step):
        block = torch.stack([v[start:start + step].to("cpu", torch.float64) for v in vs])
        gram += block @ block.T
    norms = gram.diagonal().sqrt()
    if (norms == 0).any():
        raise ParameterError("pairwise_cosines(): a vector is 0, so its cosines are undefined.")
    cos = (gram / norms[:, None] / norms[None, :]).clamp(-1, 1)
    return Cosines(cos.fill_diagonal_(1.0))
