"""One runtime for every chapter: device, seeds, precision, threads, provenance.

`setup()` is called once at the top of a chapter; it returns a `Runtime` that the rest of
the library reads (device, autocast dtype) and prints a banner describing the machine.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import ROOT
from .errors import ParameterError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA, else Apple MPS, else CPU; an explicit device must exist."""
    if name not in DEVICES:
        raise ParameterError(
            f"Unknown device {name!r}. Valid devices: {', '.join(DEVICES)} "
            "('auto' picks CUDA, else MPS, else CPU)."
        )
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise ParameterError(
            "device='cuda' was asked for, but this machine has no usable CUDA GPU "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False). "
            "Use device='auto' or device='cpu'."
        )
    if name == "mps" and not mps:
        raise ParameterError("device='mps' was asked for, but Apple MPS is not available here. "
                             "Use device='auto' or device='cpu'.")
    return torch.device(name)


@contextlib.contextmanager
def exact_fp32():
    """One precision for every evaluation (tables, lines, scans): fp32 without autocast and,
    on CUDA, without TF32, so that the same weights give the same loss whichever code
    evaluates them. Training keeps bf16 autocast and TF32 on CUDA."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def eval_batch(x: torch.Tensor) -> int:
    """Images per forward of an evaluation pass: 128 for images on the CPU, whose conv
    kernels run fastest on batches that fit the cache (measured on the quick convnet: 1.3x
    faster than 1000), else 1000 (GPUs want large batches)."""
    return 128 if x.device.type == "cpu" and x.dim() == 4 else 1000


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (out.stdout.strip() or "unknown") + ("+dirty" if dirty else "")
    except Exception:  # no git, or not a checkout
        return "unknown"


@dataclass
class Runtime:
    device: torch.device
    seed: int
    threads: int
    started: float = field(default_factory=time.time)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def amp_dtype(self):
        """bf16 autocast on CUDA; None (fp32) elsewhere."""
        return torch.bfloat16 if self.is_cuda else None

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def device_name(self) -> str:
        if self.is_cuda:
            return torch.cuda.get_device_name(self.device)
        if self.device.type == "mps":
            return "Apple MPS"
        return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"

    def environment(self) -> dict:
        """What made the numbers: recorded in every results.json."""
        return {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "platform": platform.platform(),
            "device": str(self.device),
            "device_name": self.device_name(),
            "threads": self.threads,
            "seed": self.seed,
            "git_commit": git_commit(),
            "start_time": _dt.datetime.fromtimestamp(self.started, _dt.timezone.utc).isoformat(
                timespec="seconds"),
            "wall_seconds": round(time.time() - self.started, 3),
        }

    def banner(self) -> str:
        e = self.environment()
        prec = "bf16 autocast + TF32" if self.is_cuda else "fp32"
        return (f"avalley runtime | device {e['device']} ({e['device_name']}) | {prec} | "
                f"threads {e['threads']} | seed {e['seed']} | torch {e['torch']} | "
                f"python {e['python']} | commit {e['git_commit']}")


def setup(device: str = "auto", seed: int = 0, threads: int | None = None,
          quiet: bool = False) -> Runtime:
    """Configure torch for a chapter and return the Runtime.

    CPU: fp32 and deterministic algorithms, so two runs with one seed agree exactly.
    CUDA: TF32 matmuls and bf16 autocast (speed over bit-exactness, as fast trainers do).
    """
    dev = resolve_device(device)
    if threads is None:
        threads = int(os.environ.get("AVALLEY_THREADS", 0)) or (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    seed_everything(seed)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        torch.use_deterministic_algorithms(False)
    else:
        torch.use_deterministic_algorithms(True, warn_only=True)
    rt = Runtime(device=dev, seed=seed, threads=threads)
    if not quiet:
        print(rt.banner(), file=sys.stdout)
    return rt
