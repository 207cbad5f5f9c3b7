"""How long a job of the paper-scale plan takes on a GPU, estimated without running it.

The estimate is a per-operation roofline, simple on purpose:

1. The recipe's network runs one forward pass on one input on the CPU, and every aten
   operation is counted: its FLOPs (convolutions and matrix products, 2 per
   multiply-add), the bytes it reads and writes (its tensor arguments
   and results: activations, which grow with the batch, and weights, which do not), and
   one kernel launch. A pass over a batch of B inputs is B times the FLOPs and activations.
2. Each operation takes the longer of its FLOPs at the GPU's sustained arithmetic rate and
   its bytes at the sustained memory bandwidth, plus the launch overhead. A training step
   costs three forward passes (forward, and a backward of twice the work) in bf16 autocast
   (half the bytes, the bf16 rate); an evaluation pass costs one forward pass in exact fp32
   (`runtime.exact_fp32`: no TF32), at the fp32 rate.
3. A training job is its epochs of training steps plus the BN re-estimation and evaluation
   passes `training.train` makes at the end; SGD after SWA is counted at its most epochs
   (it stops at the first iterate it looks for); a chapter is the forward passes its
   declaration's `needs` lists (scans), and its CPU work (simulations) is not counted.

The rates are assumptions about a named GPU class, stated in `GPUS`: typically reached
sustained rates, not peaks. Thin networks (PreResNet-164, DenseNet-BC-100) are bound by
memory and launches, WRN-28-10 by arithmetic; data loading costs nothing (the data lives
on the GPU). Expect the truth within a factor of about two, usually above the estimate.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

EVAL_BATCH = 1000          # avalley.runtime.eval_batch on a GPU, the batch of evaluation passes


@dataclass(frozen=True)
class GPU:
    name: str
    bf16: float            # sustained FLOP/s of bf16 convolutions and matrix products
    fp32: float            # sustained FLOP/s in exact fp32 (TF32 off)
    bandwidth: float       # sustained memory bandwidth, bytes/s
    launch: float          # seconds per kernel launch

    def describe(self) -> str:
        return (f"{self.name}: assumed sustained {self.bf16 / 1e12:.0f} TFLOP/s in bf16, "
                f"{self.fp32 / 1e12:.0f} TFLOP/s in exact fp32, "
                f"{self.bandwidth / 1e12:.1f} TB/s, {self.launch * 1e6:.0f} µs per kernel")


# about 40% of the dense bf16 peak, 75% of the fp32 peak and of the memory bandwidth
GPUS = {
    "a100": GPU("NVIDIA A100 (SXM, 80 GB)", 125e12, 15e12, 1.5e12, 6e-6),
    "h100": GPU("NVIDIA H100 (SXM)", 400e12, 50e12, 2.5e12, 5e-6),
    "l4": GPU("NVIDIA L4", 50e12, 22e12, 0.22e12, 6e-6),
}
DEFAULT_GPU = "a100"


@dataclass(frozen=True)
class PassCost:
    """One forward pass of a network over one input, per operation: its FLOPs, the bytes of
    its activations (which grow with the batch) and of its weights (which do not)."""
    roof: tuple            # per operation (flops, activation bytes, weight bytes), fp32

    def at(self, batch: int) -> list[tuple[float, float]]:
        """(FLOPs, bytes) of each operation for a batch of `batch` inputs."""
        return [(batch * f, batch * a + w) for f, a, w in self.roof]

    @property
    def ops(self) -> int:
        return len(self.roof)

    @property
    def flops(self) -> float:
        return sum(f for f, _, _ in self.roof)


@functools.cache
def forward_pass(model: str, num_classes: int, input_shape: tuple,
                 model_kwargs: tuple = ()) -> PassCost:
    """Count one forward pass of `model` on one input (see the module docstring), on the
    CPU in eval mode, through a `TorchFunctionMode` that sees every torch call the network
    makes (a fraction of a second to a few seconds per network). FLOPs and activations grow
    in proportion to the batch, the weights' bytes do not. Calls that return a view of their
    input, or no tensor, cost nothing. The counts are kept in data/cache/estimates.json
    (keyed by the network and the source of avalley/models.py), so each chapter's page
    does not count them again."""
    import hashlib
    import json

    from .. import models
    from ..atomic import write_json
    from ..training import cache_dir
    key = json.dumps([model, num_classes, list(input_shape), list(model_kwargs),
                      hashlib.sha256(Path(models.__file__).read_bytes()).hexdigest()[:12]],
                     default=list)
    path = cache_dir().parent / "estimates.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        known[key] = _count(model, num_classes, input_shape, model_kwargs)
        write_json(path, known)
    return PassCost(tuple(tuple(r) for r in known[key]))


def _count(model: str, num_classes: int, input_shape: tuple, model_kwargs: tuple) -> list:
    import torch
    import torch.nn.functional as F
    from torch.overrides import TorchFunctionMode

    from .. import models

    torch.manual_seed(0)
    net = models.build(model, num_classes, input_shape, **dict(model_kwargs)).eval()
    weights = {t.untyped_storage().data_ptr() for t in [*net.parameters(), *net.buffers()]}
    roof = []

    def tensors(obj):
        if isinstance(obj, torch.Tensor):
            yield obj
        elif isinstance(obj, (list, tuple)):
            for o in obj:
                yield from tensors(o)
        elif isinstance(obj, dict):
            for o in obj.values():
                yield from tensors(o)

    def flops(func, args, kwargs, out) -> float:
        if func in (F.conv1d, F.conv2d, torch.conv1d, torch.conv2d):
            w = args[1] if len(args) > 1 else kwargs["weight"]
            return 2.0 * out.numel() * w[0].numel()            # (in / groups) x kernel
        if func in (F.linear, torch.matmul, torch.mm, torch.addmm, torch.Tensor.__matmul__):
            a = args[0] if func is not torch.addmm else args[1]
            return 2.0 * out.numel() * a.shape[-1]
        return 0.0

    class Count(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if not isinstance(out, torch.Tensor):
                return out
            inputs = list(tensors((args, kwargs)))
            ptr = out.untyped_storage().data_ptr()
            if any(t.untyped_storage().data_ptr() == ptr for t in inputs) \
                    and func not in (torch.Tensor.add_, torch.Tensor.relu_, F.relu):
                return out                                      # a view: no kernel
            act = wgt = 0.0
            for t in inputs + [out]:
                nbytes = t.numel() * 4.0
                if t.untyped_storage().data_ptr() in weights:
                    wgt += nbytes
                else:
                    act += nbytes
            roof.append((flops(func, args, kwargs, out), act, wgt))
            return out

    with Count(), torch.no_grad():
        net(torch.zeros(1, *input_shape))
    return roof


def pass_seconds(cost: PassCost, batch: int, gpu: GPU, train: bool) -> float:
    """Seconds of one pass (see the module docstring): training = forward + backward in bf16,
    evaluation = forward in exact fp32."""
    rate, scale, passes = (gpu.bf16, 0.5, 3) if train else (gpu.fp32, 1.0, 1)
    per_op = sum(max(f / rate, b * scale / gpu.bandwidth) for f, b in cost.at(batch))
    return passes * (per_op + cost.ops * gpu.launch)


def _shape(recipe) -> tuple[int, tuple]:
    from ..data import SIZES
    if recipe.dataset.startswith("cifar"):
        return (100 if recipe.dataset == "cifar100" else 10), (3, 32, 32)
    shapes = {"digits": (1, 8, 8), "mnist1d": (1, 40), "fashion-mnist": (1, 28, 28)}
    assert recipe.dataset in SIZES
    return 10, shapes[recipe.dataset]


def _cost(recipe) -> PassCost:
    classes, shape = _shape(recipe)
    kwargs = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                          for k, v in recipe.model_kwargs.items()))
    return forward_pass(recipe.model, classes, shape, kwargs)


def eval_seconds(recipe, images: int, gpu: GPU) -> float:
    """Forward passes of `images` images through the recipe's network, exact fp32."""
    batch = min(EVAL_BATCH, max(images, 1))
    return pass_seconds(_cost(recipe), batch, gpu, train=False) * images / batch


def train_seconds(recipe, gpu: GPU) -> float:
    """`training.train(recipe)`: the epochs of SGD steps, then the BN re-estimation (one pass
    over the training images) and the evaluation on the training and test sets, for the last
    iterate and, with SWA, for the average."""
    from .needs import images
    n_train, n_test = images(recipe)
    steps = recipe.epochs * (n_train // recipe.batch_size)
    step = pass_seconds(_cost(recipe), recipe.batch_size, gpu, train=True)
    solutions = 2 if recipe.swa else 1
    return steps * step + solutions * eval_seconds(recipe, 2 * n_train + n_test, gpu)


def after_swa_seconds(recipe, max_epochs: int, gpu: GPU) -> float:
    """`training.after_swa`: at most `max_epochs` epochs, each with its BN re-estimation and
    evaluation on the training and test sets."""
    from .needs import images
    n_train, n_test = images(recipe)
    step = pass_seconds(_cost(recipe), recipe.batch_size, gpu, train=True)
    per_epoch = (n_train // recipe.batch_size) * step + eval_seconds(
        recipe, 2 * n_train + n_test, gpu)
    return max_epochs * per_epoch


def hours(seconds: float) -> str:
    """A duration in words: '40 s', '12 min', '3.4 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
