"""Loss and accuracy at many points w + Σ c_j·d_j (a line, a plane), with an explicit BN mode.

BN modes (what the BatchNorm layers use at a moved point):
- eval: the centre's running statistics, unchanged (what most landscape tools do);
- recompute: statistics re-estimated on the training data at every point, exactly as
  `torch.optim.swa_utils.update_bn` does (whole model in train mode, batches of `bn_batch`,
  cumulative average of the per-batch mean and unbiased variance); the paper's protocol;
- batch: batch statistics of each evaluation batch of `bn_batch` samples (train mode, no
  running-statistics update), so results depend on `bn_batch`.
A model without BN gives the same numbers in every mode (evaluated in eval mode).

The engine copies the model once, then for a chunk of K points calls it functionally on the
stacked weights (`torch.func.functional_call`, under `vmap` when K > 1), with the data
already on the device and autograd off. K = 1 on CPU for conv nets (vmap turns convs into
grouped convs, slow on CPU); K > 1 elsewhere, where it replaces K small GEMMs by one big one.
In eval passes a BN layer that directly follows a conv or linear layer is folded into it
(per point: W·γ/√(var+ε), bias (b − mean)·γ/√(var+ε) + β), which is the same function and
skips a pass over the activations (a third of a conv net's eval time on CPU).
`reference_line` is the plain per-point loop that the paper's code runs; tests and the
benchmark compare the two.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, vmap
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader, TensorDataset

from .directions import Direction, flat_params
from .errors import ParameterError
from .runtime import exact_fp32

BN_MODES = ("eval", "recompute", "batch")
_BN = nn.modules.batchnorm._BatchNorm


@dataclass
class Scan:
    """Losses (mean cross-entropy) and accuracies at the points `coords` ([K, m])."""
    coords: np.ndarray
    train_loss: np.ndarray
    train_acc: np.ndarray
    test_loss: np.ndarray
    test_acc: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def ls(self) -> np.ndarray:
        """The steps of a line scan."""
        return self.coords[:, 0]

    def as_dict(self) -> dict:
        return {"coords": self.coords, "ls": self.ls, "train_loss": self.train_loss,
                "train_acc": self.train_acc, "test_loss": self.test_loss,
                "test_acc": self.test_acc, "meta": self.meta}


def line_rises(ts, loss, a: float = 0.0, b: float = 1.0, span: float = 2.0) -> dict:
    """The two rises of a loss along the line w(t) = w_a + t (w_b − w_a) that the paper
    compares (PAPER.md experiment 6): beyond the b end, L(b + span) − L(b), and beyond the
    a end, L(a − span) − L(a) (linear interpolation on the grid ts, which must cover
    [a − span, b + span]). `valley`: the minimum of the sampled curve lies strictly inside
    the scanned range, so that the curve is a valley at all; `difference` = the b-side rise
    minus the a-side rise (positive: the b side is the steeper one), `ratio` their quotient
    when the a-side rise is positive (NaN otherwise)."""
    ts, loss = np.asarray(ts, dtype=float), np.asarray(loss, dtype=float)
    if ts[0] > a - span + 1e-9 or ts[-1] < b + span - 1e-9:
        raise ValueError(f"the line must cover [{a - span:g}, {b + span:g}], got "
                         f"[{ts[0]:g}, {ts[-1]:g}]")
    at = lambda t: float(np.interp(t, ts, loss))  # noqa: E731
    rise_b, rise_a = at(b + span) - at(b), at(a - span) - at(a)
    i = int(np.argmin(loss))
    return {"valley": 0 < i < len(ts) - 1, "argmin": float(ts[i]), "rise_b": rise_b,
            "rise_a": rise_a, "difference": rise_b - rise_a,
            "ratio": rise_b / rise_a if rise_a > 0 else float("nan")}


def has_bn(model: nn.Module) -> bool:
    return any(isinstance(m, _BN) for m in model.modules())


def _check_mode(bn_mode: str) -> None:
    if bn_mode not in BN_MODES:
        raise ParameterError(f"Unknown bn_mode {bn_mode!r}. Valid BN modes: "
                             f"{', '.join(BN_MODES)}.")


def _batches(x: torch.Tensor, size: int):
    return [x[i:i + size] for i in range(0, len(x), size)]


def _loss_correct(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed cross-entropy and number correct over the last-but-one axis of out [..., n, C]."""
    logp = out.float().log_softmax(-1)
    y = y.expand(*out.shape[:-1])
    loss = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).sum(-1)
    return loss, (out.argmax(-1) == y).sum(-1)


@torch.inference_mode()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
             batch: int = 1024) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of a model at its own weights, in eval mode."""
    was_training = model.training
    model.eval()
    loss = correct = 0.0
    for xb, yb in zip(_batches(x, batch), _batches(y, batch)):
        l_, c = _loss_correct(model(xb), yb)
        loss, correct = loss + float(l_), correct + float(c)
    model.train(was_training)
    return loss / len(x), correct / len(x)


def _foldable(net: nn.Module) -> list[tuple[str, str, float]]:
    """(layer, bn, eps) for each BN that directly follows a conv or linear layer in a
    Sequential and normalizes with running statistics in eval mode."""
    def linear(m):
        return isinstance(m, nn.Linear) or (isinstance(m, nn.modules.conv._ConvNd)
                                            and not m.transposed)
    pairs = []
    for prefix, seq in net.named_modules():
        if isinstance(seq, nn.Sequential):
            kids = [(f"{prefix}.{n}" if prefix else n, m) for n, m in seq.named_children()]
            pairs += [(a, b, mb.eps) for (a, ma), (b, mb) in zip(kids, kids[1:])
                      if linear(ma) and isinstance(mb, _BN) and mb.affine
                      and mb.track_running_stats]
    return pairs


def _without_bn(net: nn.Module, pairs) -> nn.Module:
    """A copy of net with the folded BN layers replaced by identities and a bias on every
    layer they followed."""
    net = copy.deepcopy(net)
    for layer, bn, _ in pairs:
        parent, _, name = bn.rpartition(".")
        setattr(net.get_submodule(parent), name, nn.Identity())
        m = net.get_submodule(layer)
        if m.bias is None:
            m.bias = nn.Parameter(m.weight.new_zeros(m.weight.shape[0]))
    return net.eval()


class _Engine:
    """A private copy of the model, called functionally on the weights of K points at once."""

    def __init__(self, model: nn.Module, device: torch.device):
        self.net = copy.deepcopy(model).to(device)
        self.bns = {n: m for n, m in self.net.named_modules() if isinstance(m, _BN)}
        self.shapes = {n: p.shape for n, p in self.net.named_parameters()}
        self.buffers = {n: b.detach() for n, b in self.net.named_buffers()}
        conv = any(isinstance(m, nn.modules.conv._ConvNd) for m in self.net.modules())
        self.channels_last = conv and device.type == "cpu"
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.vmap_points = not (conv and device.type == "cpu")
        self.folds = _foldable(self.net)
        self.eval_net = _without_bn(self.net, self.folds) if self.folds else self.net

    def _fold(self, params: dict, buffers: dict) -> tuple[dict, dict]:
        """Parameters and buffers of eval_net: each folded BN merged into its layer."""
        gone = tuple(f"{bn}." for _, bn, _ in self.folds)
        p = {n: t for n, t in params.items() if not n.startswith(gone)}
        b = {n: t for n, t in buffers.items() if not n.startswith(gone)}
        for layer, bn, eps in self.folds:
            scale = params[f"{bn}.weight"] * torch.rsqrt(buffers[f"{bn}.running_var"] + eps)
            w = params[f"{layer}.weight"]                        # [k, out, ...]
            p[f"{layer}.weight"] = w * scale.view(*scale.shape, *[1] * (w.dim() - 2))
            bias = params.get(f"{layer}.bias", 0.0)
            p[f"{layer}.bias"] = (bias - buffers[f"{bn}.running_mean"]) * scale \
                + params[f"{bn}.bias"]
        return p, b

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) \
            if self.channels_last and x.dim() == 4 else x

    def _param_layout(self, p: torch.Tensor) -> torch.Tensor:
        # weights in the channels-last layout too: with plain views of W the convs would
        # return NCHW activations, and CPU max-pooling is ~10x slower on those
        # (clone, not contiguous: a weight with one input channel already counts as
        # channels-last and would be returned as it is, with NCHW strides)
        return p[0].clone(memory_format=torch.channels_last).unsqueeze(0) \
            if self.channels_last and p.dim() == 5 and len(p) == 1 else p

    def _layout_all(self, params: dict) -> dict:
        return {n: self._param_layout(t) for n, t in params.items()}

    def _forward(self, net, params: dict, buffers: dict, x: torch.Tensor,
                 k: int) -> torch.Tensor:
        """Logits [k, n, C]."""
        if k == 1:
            one = lambda d: {n: t[0] for n, t in d.items()}  # noqa: E731
            return functional_call(net, (one(params), one(buffers)), (x,)).unsqueeze(0)
        f = lambda p, b: functional_call(net, (p, b), (x,))  # noqa: E731
        return vmap(f)(params, buffers)

    def _sums(self, net, params, buffers, x, y, batch, k):
        loss = torch.zeros(k, device=x.device, dtype=torch.float64)
        correct = torch.zeros(k, device=x.device, dtype=torch.float64)
        for xb, yb in zip(_batches(x, batch), _batches(y, batch)):
            l_, c = _loss_correct(self._forward(net, params, buffers, xb, k), yb)
            loss += l_
            correct += c
        return loss / len(x), correct / len(x)

    @torch.inference_mode()
    def run(self, W: torch.Tensor, train, test, bn_mode: str, bn_batch: int,
            eval_batch: int, bn_x: torch.Tensor | None = None) -> list[torch.Tensor]:
        """[train_loss, train_acc, test_loss, test_acc], each [K], for the weights W [K, D];
        in recompute mode the statistics come from bn_x (default: the training images)."""
        k = len(W)
        sizes = [s.numel() for s in self.shapes.values()]
        params = {n: t.view(k, *s) for (n, s), t in zip(self.shapes.items(), W.split(sizes, 1))}
        buffers = {n: b.expand(k, *b.shape).clone() for n, b in self.buffers.items()}
        (xtr, ytr), (xte, yte) = [(self._layout(x), y) for x, y in (train, test)]
        mode = bn_mode if self.bns else "eval"
        if mode == "recompute":
            # update_bn: reset the statistics, then a cumulative average over the batches
            # (momentum 1/(i+1) for batch i is what momentum=None does)
            for name in self.bns:
                buffers[f"{name}.running_mean"].zero_()
                buffers[f"{name}.running_var"].fill_(1)
            self.net.train()
            laid = self._layout_all(params)
            stats_x = xtr if bn_x is None else self._layout(bn_x)
            for i, xb in enumerate(_batches(stats_x, bn_batch)):
                for m in self.bns.values():
                    m.momentum = 1.0 / (i + 1)
                self._forward(self.net, laid, buffers, xb, k)
        net = self.net
        if mode == "batch":
            self.net.train()
            for m in self.bns.values():
                m.track_running_stats = False
            batch = bn_batch
        else:
            self.net.eval()
            net, (params, buffers) = self.eval_net, self._fold(params, buffers)
            batch = max(1, eval_batch // k)
        params = self._layout_all(params)
        try:
            return [*self._sums(net, params, buffers, xtr, ytr, batch, k),
                    *self._sums(net, params, buffers, xte, yte, batch, k)]
        finally:
            for m in self.bns.values():
                m.track_running_stats = True


def _meta(model, directions, bn_mode, bn_batch, train, test, bn_data=None) -> dict:
    return {"bn_mode": bn_mode, "bn_batch": bn_batch, "model_has_bn": has_bn(model),
            "n_train": len(train[0]), "n_test": len(test[0]),
            "n_bn": len(train[0] if bn_data is None else bn_data),
            "directions": [d.meta for d in directions]}


def points(model: nn.Module, directions: list[Direction], coords, train, test,
           bn_mode: str = "recompute", bn_batch: int = 128, eval_batch: int | None = None,
           chunk: int | None = None, bn_data: torch.Tensor | None = None) -> Scan:
    """Loss and accuracy at w + Σ_j coords[i, j]·directions[j] for every row i, in exact
    fp32 (`runtime.exact_fp32`, the precision of every evaluation in the book).

    train, test: (x, y) tensors, on the device the evaluation runs on (the model is copied
    there). bn_data: the images the recompute mode re-estimates the statistics on (default:
    train's; a recipe's are `training.bn_images`). eval_batch: (points × images) per forward
    in eval mode (default: 128 images for conv nets on CPU, whose kernels run fastest on
    batches that fit the cache; else 4096). chunk: points per call (default: 1 for conv nets
    on CPU, else 64).
    """
    _check_mode(bn_mode)
    names = tuple(n for n, _ in model.named_parameters())
    for d in directions:
        if d.names != names:
            raise ParameterError("The direction was made for another model (its parameter "
                                 "names differ).")
    device = train[0].device
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, len(directions))
    engine = _Engine(model, device)
    chunk = chunk or (64 if engine.vmap_points else 1)
    eval_batch = eval_batch or (4096 if engine.vmap_points else 128)
    w0 = flat_params(model).to(device)
    D = torch.stack([d.vec for d in directions]).to(device)
    out = []
    with exact_fp32():
        for c in np.array_split(coords, math.ceil(len(coords) / chunk)):
            W = w0 + torch.as_tensor(c, dtype=torch.float32, device=device) @ D
            out.append(torch.stack(engine.run(W, train, test, bn_mode, bn_batch, eval_batch,
                                              bn_data), 1))
    res = torch.cat(out).cpu().numpy()
    return Scan(coords, *res.T, meta=_meta(model, directions, bn_mode, bn_batch, train, test,
                                           bn_data))


def line(model: nn.Module, direction: Direction, ls, train, test, **kw) -> Scan:
    """The points w + l·u for l in ls."""
    return points(model, [direction], np.asarray(ls)[:, None], train, test, **kw)


def plane(model: nn.Module, u: Direction, v: Direction, alphas, betas, train, test,
          **kw) -> Scan:
    """The grid w + a·u + b·v; coords rows run over betas fastest (reshape to [A, B])."""
    a, b = np.meshgrid(np.asarray(alphas), np.asarray(betas), indexing="ij")
    return points(model, [u, v], np.stack([a.ravel(), b.ravel()], 1), train, test, **kw)


def reference_line(model: nn.Module, direction: Direction, ls, train, test,
                   bn_mode: str = "recompute", bn_batch: int = 128,
                   eval_batch: int = 128, dataloader: bool = False,
                   bn_data: torch.Tensor | None = None) -> Scan:
    """The paper's per-point loop: set the weights, `update_bn` on the training data
    (recompute), evaluate train and test batch by batch. Slow; the engine's yardstick.
    dataloader: draw the batches from a `torch.utils.data.DataLoader` over the tensors, as
    the paper's code feeds its data, instead of slicing the tensors."""
    _check_mode(bn_mode)

    def feed(x, y, size):
        return DataLoader(TensorDataset(x, y), batch_size=size) if dataloader \
            else zip(_batches(x, size), _batches(y, size))

    net = copy.deepcopy(model).to(train[0].device)
    w0, mode = flat_params(model), bn_mode if has_bn(model) else "eval"
    rows = []
    for l_ in ls:
        torch.nn.utils.vector_to_parameters(
            (w0 + float(l_) * direction.vec).to(train[0].device), net.parameters())
        net.load_state_dict({n: b for n, b in model.state_dict().items()
                             if n in dict(net.named_buffers())}, strict=False)
        if mode == "recompute":
            bx = train[0] if bn_data is None else bn_data
            update_bn(feed(bx, torch.zeros(len(bx)), bn_batch), net)
        row = []
        for x, y in (train, test):
            if mode == "batch":    # batch statistics, running statistics left alone
                net.train()
                for m in net.modules():
                    if isinstance(m, _BN):
                        m.momentum = 0.0
                size = bn_batch
            else:
                net.eval()
                size = eval_batch
            loss = correct = 0.0
            with torch.no_grad():
                for xb, yb in feed(x, y, size):
                    out = net(xb)
                    loss += F.cross_entropy(out, yb, reduction="sum").item()
                    correct += (out.argmax(1) == yb).sum().item()
            row += [loss / len(x), correct / len(x)]
        rows.append(row)
    res = np.array(rows).T
    ls = np.asarray(ls, dtype=np.float64)[:, None]
    return Scan(ls, *res, meta=_meta(model, [direction], bn_mode, bn_batch, train, test,
                                     bn_data))
