"""SGD with the paper's schedule, SWA through `torch.optim.swa_utils`, and a shared cache.

`train(recipe, rt)` returns the last SGD iterate, the SWA average and their train/test
loss and accuracy. A finished network is stored under `data/cache/train/KEY/` where KEY
hashes the full `Recipe`, the device type and `TRAINING_CODE_VERSION`, so every chapter
that asks for the same network gets it back in seconds. While training, a checkpoint is
written every epoch; a killed run resumes from it and, on the CPU, ends with bitwise the
same weights as an uninterrupted run (the data order and augmentation come from one
generator whose state is checkpointed, and CPU kernels are deterministic).
"""
from __future__ import annotations

import copy
import dataclasses
import fcntl
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn
from tqdm.auto import tqdm

from . import DATA_DIR, data, models
from .atomic import write_torch
from .errors import ParameterError, TrainingDiverged
from .runtime import Runtime

# Bump when a change to this file changes what a recipe trains into: old caches are ignored.
TRAINING_CODE_VERSION = 2     # 2: channels-last layout on the CPU too
SCHEDULES = ("swa", "cosine", "step")
EVAL_BATCH = 1000


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a trained network. Epochs count from 0 in the code;
    `swa_start` is the paper's 1-based epoch: snapshots are taken after epochs
    swa_start..epochs (1-based), one per epoch; None means a plain SGD run."""
    dataset: str
    model: str
    n_train: int | None = None
    n_test: int | None = None
    data_seed: int = 0               # which subset; fixed across training seeds
    model_kwargs: dict = field(default_factory=dict)
    seed: int = 0                    # initialization, data order, augmentation
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "swa"
    swa_start: int | None = None
    swa_lr: float = 0.05
    use_swalr: bool = False          # SWA phase lr from torch's SWALR (cosine anneal)
    swalr_epochs: int = 5
    augment: bool = False
    compile: bool = False            # torch.compile the training forward (CUDA)

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ParameterError(f"Unknown schedule {self.schedule!r}. "
                                 f"Valid schedules: {', '.join(SCHEDULES)}.")
        if self.dataset not in data.DATASETS:
            raise ParameterError(f"Unknown dataset {self.dataset!r}. "
                                 f"Valid datasets: {', '.join(data.DATASETS)}.")
        if self.model not in models.MODELS:
            raise ParameterError(f"Unknown model {self.model!r}. "
                                 f"Valid models: {', '.join(models.MODELS)}.")
        if self.swa_start is not None and not 1 <= self.swa_start <= self.epochs:
            raise ParameterError(f"swa_start must be in 1..epochs={self.epochs}, "
                                 f"got {self.swa_start}.")

    @property
    def swa(self) -> bool:
        return self.swa_start is not None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def learning_rate(recipe: Recipe, epoch: int) -> float:
    """Learning rate of 0-based `epoch`, as in the paper's code (SWA repository):
    with t = epoch / T, T = swa_start (SWA) or epochs (plain SGD), and final value
    lr_end = swa_lr (SWA) or 0.01 * lr (plain SGD):
      swa:    lr for t <= 0.5, linear to lr_end at t = 0.9, then lr_end;
      cosine: lr_end + (lr - lr_end) (1 + cos(pi min(t, 1))) / 2;
      step:   lr, times (lr_end/lr)^(1/2) at t >= 0.5 and again at t >= 0.75.
    """
    r = recipe
    t = epoch / (r.swa_start if r.swa else r.epochs)
    ratio = r.swa_lr / r.lr if r.swa else 0.01
    if r.schedule == "swa":
        factor = 1.0 if t <= 0.5 else ratio if t > 0.9 else 1 - (1 - ratio) * (t - 0.5) / 0.4
    elif r.schedule == "cosine":
        factor = ratio + (1 - ratio) * (1 + math.cos(math.pi * min(t, 1.0))) / 2
    else:
        factor = ratio ** (((t >= 0.5) + (t >= 0.75)) / 2)
    return r.lr * factor


@dataclass
class TrainResult:
    recipe: Recipe
    model: nn.Module              # last SGD iterate (eval mode, on the runtime's device)
    swa_model: nn.Module | None   # the SWA average as a plain module, BN recomputed; or None
    metrics: dict                 # {"sgd": {...}, "swa": {...}}: train/test loss and accuracy
    history: list                 # per epoch: lr, running train loss and accuracy, seconds
    seconds: float                # training time (of the run that produced the cache)
    from_cache: bool
    key: str
    num_classes: int
    input_shape: tuple


def recipe_key(recipe: Recipe, device_type: str) -> str:
    """Hash of everything that determines the weights (device type included: CUDA runs use
    bf16 and non-deterministic kernels, so they are different networks)."""
    blob = json.dumps({"recipe": recipe.to_dict(), "device": device_type,
                       "code": TRAINING_CODE_VERSION}, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    return DATA_DIR / "cache" / "train"


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, rt: Runtime,
             batch_size: int = EVAL_BATCH) -> dict:
    """Mean cross-entropy and accuracy in eval mode, without augmentation."""
    model.eval()
    loss, correct = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    with torch.no_grad(), rt.autocast():
        for xb, yb in data.batches(x, y, batch_size):
            out = model(layout(xb, rt)).float()
            loss += F.cross_entropy(out, yb, reduction="sum")
            correct += (out.argmax(1) == yb).sum()
    return {"loss": loss.item() / len(y), "acc": correct.item() / len(y)}


def layout(x, rt):
    """Image batches in the channels-last layout, on every device: cuDNN and oneDNN (CPU)
    run convolutions fastest in it, and CPU max-pooling is ~10x faster than on NCHW."""
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


def train(recipe: Recipe, rt: Runtime, cache: bool = True, progress: bool = True,
          root: Path | None = None) -> TrainResult:
    """Train `recipe` (or load it from the cache under `root`, default data/cache/train).

    cache=False trains from scratch and reads or writes nothing. With the cache, a file lock
    makes a second process asking for the same network wait and then load it.
    """
    key = recipe_key(recipe, rt.device.type)
    if not cache:
        return _train(recipe, rt, key, None, progress)
    folder = (root or cache_dir()) / key
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)             # released when the file closes
        if (folder / "result.pt").exists():
            return _load_result(recipe, rt, key, folder / "result.pt")
        result = _train(recipe, rt, key, folder, progress)
        _save_result(result, folder / "result.pt")
        (folder / "checkpoint.pt").unlink(missing_ok=True)
        return result


def _build(recipe: Recipe, num_classes: int, shape: tuple, rt: Runtime) -> nn.Module:
    model = models.build(recipe.model, num_classes, shape, **recipe.model_kwargs).to(rt.device)
    return model.to(memory_format=torch.channels_last) if len(shape) == 3 else model  # see layout


def _train(recipe: Recipe, rt: Runtime, key: str, folder: Path | None,
           progress: bool) -> TrainResult:
    r = recipe
    ds = data.load(r.dataset, r.n_train, r.n_test, seed=r.data_seed).to(rt.device)
    torch.manual_seed(r.seed)
    model = _build(r, ds.num_classes, ds.input_shape, rt)
    opt = torch.optim.SGD(model.parameters(), lr=r.lr, momentum=r.momentum,
                          weight_decay=r.weight_decay)
    swa = AveragedModel(model) if r.swa else None
    swalr = SWALR(opt, r.swa_lr, r.swalr_epochs, "cos") if r.swa and r.use_swalr else None
    gen = torch.Generator().manual_seed(r.seed)   # data order and augmentation
    step = torch.compile(model) if r.compile else model
    history, start, seconds = [], 0, 0.0
    ckpt_path = folder / "checkpoint.pt" if folder is not None else None
    if ckpt_path is not None and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)  # RNG states
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if swa is not None:
            swa.load_state_dict(ck["swa"])
        if swalr is not None:
            swalr.load_state_dict(ck["swalr"])
        gen.set_state(ck["generator"])
        torch.set_rng_state(ck["torch_rng"])       # dropout (VGG)
        history, start, seconds = ck["history"], ck["epoch"], ck["seconds"]

    n_batches = len(ds.y_train) // r.batch_size
    bar = tqdm(total=r.epochs * n_batches, initial=start * n_batches, disable=not progress,
               desc=f"{r.model} on {r.dataset}", unit="batch", leave=False)
    for epoch in range(start, r.epochs):
        t0 = time.time()
        in_swa = r.swa and epoch + 1 >= r.swa_start
        if not (in_swa and swalr is not None):
            for g in opt.param_groups:
                g["lr"] = learning_rate(r, epoch)
        lr = opt.param_groups[0]["lr"]

        def on_step(i, loss_sum, seen):
            if i % 10 == 0:                         # one device sync per 10 steps
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum.item() / seen:.4f}",
                                lr=f"{lr:.4g}")
            bar.update()

        train_loss, train_acc = sgd_epoch(step, opt, ds, r, gen, rt, on_step)
        if not math.isfinite(train_loss):
            bar.close()
            kept = (f"; the checkpoint of epoch {history[-1]['epoch']} is kept in {folder}"
                    if folder is not None and history else "")
            raise TrainingDiverged(
                f"training loss is {train_loss} in epoch {epoch + 1} of {r.epochs} "
                f"({r.model} on {r.dataset}, lr {lr:g}){kept}. Lower the learning rate.")
        if in_swa:
            swa.update_parameters(model)
            if swalr is not None:
                swalr.step()
        seconds += time.time() - t0
        history.append({"epoch": epoch + 1, "lr": lr, "train_loss": train_loss,
                        "train_acc": train_acc, "seconds": seconds,
                        "swa_snapshots": int(swa.n_averaged) if swa is not None else 0})
        if ckpt_path is not None:
            _save_checkpoint(ckpt_path, epoch + 1, model, opt, swa, swalr, gen, history,
                             seconds)
    bar.close()

    swa_model = None
    if swa is not None:
        swa_model = swa.module
        bn_gen = torch.Generator().manual_seed(r.seed + 1)
        with rt.autocast():     # BN statistics from the training distribution, as the paper
            update_bn(data.batches(ds.x_train, ds.y_train, r.batch_size, generator=bn_gen,
                                   augment=r.augment), swa_model)
    metrics = _metrics(model, swa_model, ds, rt)
    return TrainResult(r, model.eval(), swa_model.eval() if swa_model is not None else None,
                       metrics, history, seconds, False, key, ds.num_classes, ds.input_shape)


def sgd_epoch(model: nn.Module, opt: torch.optim.Optimizer, ds, recipe: Recipe,
              gen: torch.Generator, rt: Runtime, on_step=None) -> tuple[float, float]:
    """One epoch of mini-batch SGD in train mode on ds's training set (the recipe's batch
    size and augmentation, data order from `gen`); returns the running mean loss and
    accuracy. `on_step(i, loss_sum, seen)` is called after each step (progress bars)."""
    model.train()
    loss_sum = torch.zeros((), device=rt.device)
    correct = torch.zeros((), device=rt.device)
    seen = 0
    for i, (xb, yb) in enumerate(data.batches(ds.x_train, ds.y_train, recipe.batch_size,
                                              shuffle=True, generator=gen,
                                              augment=recipe.augment, drop_last=True)):
        with rt.autocast():
            out = model(layout(xb, rt))
            loss = F.cross_entropy(out.float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach() * len(yb)
        correct += (out.detach().argmax(1) == yb).sum()
        seen += len(yb)
        if on_step is not None:
            on_step(i, loss_sum, seen)
    return loss_sum.item() / seen, correct.item() / seen


def train_test_metrics(model: nn.Module, ds, rt: Runtime) -> dict:
    """Train and test loss and accuracy of `model` on the dataset `ds`, in eval mode."""
    tr, te = evaluate(model, ds.x_train, ds.y_train, rt), evaluate(model, ds.x_test, ds.y_test, rt)
    return {"train_loss": tr["loss"], "train_acc": tr["acc"],
            "test_loss": te["loss"], "test_acc": te["acc"]}


def _metrics(model, swa_model, ds, rt) -> dict:
    return {name: train_test_metrics(m, ds, rt)
            for name, m in (("sgd", model), ("swa", swa_model)) if m is not None}


@dataclass
class AfterSWA:
    """SGD continued from the SWA weights (PAPER.md experiment 5)."""
    history: list            # per epoch: train/test loss and accuracy of the iterate
    reference: dict          # the SWA solution's train/test loss and accuracy
    found_epoch: int | None  # first epoch with lower train loss and higher test loss than SWA


def sgd_after_swa(result: TrainResult, ds, rt: Runtime, lr: float, epochs: int,
                  seed: int = 0, stop: bool = True) -> AfterSWA:
    """Constant-lr SGD (the recipe's momentum and weight decay) from `result.swa_model` on
    the dataset `ds` the recipe trained on, evaluated after every epoch, until an iterate
    has lower train loss and higher test loss than SWA (with `stop`) or `epochs` run out."""
    r = result.recipe
    model = copy.deepcopy(result.swa_model)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=r.momentum,
                          weight_decay=r.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    ref = result.metrics["swa"]
    history, found = [], None
    for epoch in range(1, epochs + 1):
        sgd_epoch(model, opt, ds, r, gen, rt)
        m = train_test_metrics(model, ds, rt)
        history.append({"epoch": epoch, **m})
        better_train = m["train_loss"] < ref["train_loss"]
        if found is None and better_train and m["test_loss"] > ref["test_loss"]:
            found = epoch
            if stop:
                break
    return AfterSWA(history, ref, found)


def _save_checkpoint(path, epoch, model, opt, swa, swalr, gen, history, seconds):
    write_torch(path, {
        "epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
        "swa": swa.state_dict() if swa is not None else None,
        "swalr": swalr.state_dict() if swalr is not None else None,
        "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
        "history": history, "seconds": seconds})


def _save_result(res: TrainResult, path: Path) -> None:
    write_torch(path, {
        "recipe": res.recipe.to_dict(), "model": res.model.state_dict(),
        "swa_model": res.swa_model.state_dict() if res.swa_model is not None else None,
        "metrics": res.metrics, "history": res.history, "seconds": res.seconds,
        "num_classes": res.num_classes, "input_shape": res.input_shape})
    (path.parent / "recipe.json").write_text(json.dumps(res.recipe.to_dict(), indent=2,
                                                        default=list))


def _load_result(recipe, rt, key, path) -> TrainResult:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    n_classes, shape = saved["num_classes"], tuple(saved["input_shape"])
    model = _build(recipe, n_classes, shape, rt)
    model.load_state_dict(saved["model"])
    swa_model = None
    if saved["swa_model"] is not None:
        swa_model = _build(recipe, n_classes, shape, rt)
        swa_model.load_state_dict(saved["swa_model"])
        swa_model.eval()
    return TrainResult(recipe, model.eval(), swa_model, saved["metrics"], saved["history"],
                       saved["seconds"], True, key, n_classes, shape)



