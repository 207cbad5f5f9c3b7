"""How long a job of the paper-scale plan takes on a GPU, estimated without running it.

The estimate is a per-operation roofline, simple on purpose:

1. The recipe's network runs one forward pass on "meta" tensors (shapes only, no memory,
   no arithmetic) at the batch size of the pass, and every aten operation is counted:
   its FLOPs (PyTorch's own `torch.utils.flop_counter` formulas; convolutions and matrix
   products), the bytes it reads and writes (its tensor arguments and results), and one
   kernel launch.
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

EVAL_BATCH = 1000          # avalley.training.EVAL_BATCH, the batch of evaluation passes


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
    """One forward pass of a network over a batch: totals over its operations."""
    flops: float           # FLOPs
    bytes: float           # bytes read and written, in fp32
    ops: int               # kernel launches
    roof: tuple            # per operation (flops, bytes), for the roofline


_FREE = {"view", "_unsafe_view", "t", "detach", "expand", "permute", "transpose",
         "as_strided", "alias", "unsqueeze", "squeeze", "reshape", "slice", "select",
         "_reshape_alias", "lift_fresh"}


@functools.cache
def forward_pass(model: str, num_classes: int, input_shape: tuple, batch: int,
                 model_kwargs: tuple = ()) -> PassCost:
    """Count one forward pass of `model` on a batch of `batch` inputs (see the module
    docstring); meta tensors only, so WRN-28-10 costs milliseconds and no memory."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten
    from torch.utils.flop_counter import flop_registry

    from .. import models

    roof = []

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            packet = func._overloadpacket
            if packet.__name__.rstrip("_") in _FREE:
                return out
            flops = flop_registry[packet](*args, **kwargs, out_val=out) \
                if packet in flop_registry else 0
            moved = sum(t.numel() * 4 for t in tree_flatten((args, kwargs, out))[0]
                        if isinstance(t, torch.Tensor))
            roof.append((float(flops), float(moved)))
            return out

    with torch.device("meta"):
        net = models.build(model, num_classes, input_shape, **dict(model_kwargs)).eval()
        x = torch.zeros(batch, *input_shape)
    with Count(), torch.no_grad():
        net(x)
    return PassCost(sum(f for f, _ in roof), sum(b for _, b in roof), len(roof), tuple(roof))


def pass_seconds(cost: PassCost, gpu: GPU, train: bool) -> float:
    """Seconds of one pass (see the module docstring): training = forward + backward in bf16,
    evaluation = forward in exact fp32."""
    rate, scale, passes = (gpu.bf16, 0.5, 3) if train else (gpu.fp32, 1.0, 1)
    per_op = sum(max(f / rate, b * scale / gpu.bandwidth) for f, b in cost.roof)
    return passes * (per_op + cost.ops * gpu.launch)


def _shape(recipe) -> tuple[int, tuple]:
    from ..data import SIZES
    if recipe.dataset.startswith("cifar"):
        return (100 if recipe.dataset == "cifar100" else 10), (3, 32, 32)
    shapes = {"digits": (1, 8, 8), "mnist1d": (1, 40), "fashion-mnist": (1, 28, 28)}
    assert recipe.dataset in SIZES
    return 10, shapes[recipe.dataset]


def _cost(recipe, batch: int) -> PassCost:
    classes, shape = _shape(recipe)
    kwargs = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                          for k, v in recipe.model_kwargs.items()))
    return forward_pass(recipe.model, classes, shape, batch, kwargs)


def eval_seconds(recipe, images: int, gpu: GPU) -> float:
    """Forward passes of `images` images through the recipe's network, exact fp32."""
    batch = min(EVAL_BATCH, max(images, 1))
    return pass_seconds(_cost(recipe, batch), gpu, train=False) * images / batch


def train_seconds(recipe, gpu: GPU) -> float:
    """`training.train(recipe)`: the epochs of SGD steps, then the BN re-estimation (one pass
    over the training images) and the evaluation on the training and test sets, for the last
    iterate and, with SWA, for the average."""
    from .needs import images
    n_train, n_test = images(recipe)
    steps = recipe.epochs * (n_train // recipe.batch_size)
    step = pass_seconds(_cost(recipe, recipe.batch_size), gpu, train=True)
    solutions = 2 if recipe.swa else 1
    return steps * step + solutions * eval_seconds(recipe, 2 * n_train + n_test, gpu)


def after_swa_seconds(recipe, max_epochs: int, gpu: GPU) -> float:
    """`training.after_swa`: at most `max_epochs` epochs, each with its BN re-estimation and
    evaluation on the training and test sets."""
    from .needs import images
    n_train, n_test = images(recipe)
    step = pass_seconds(_cost(recipe, recipe.batch_size), gpu, train=True)
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
