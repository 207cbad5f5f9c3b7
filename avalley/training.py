"""SGD with the paper's schedule, SWA through `torch.optim.swa_utils`, and a shared cache.

`train(recipe, rt)` returns the last SGD iterate, the SWA average and their train/test
loss and accuracy. A finished network is stored under `data/cache/train/KEY/` where KEY
hashes the full `Recipe`, the device type and `TRAINING_CODE_VERSION`, so every chapter
that asks for the same network gets it back in seconds. While training, a checkpoint is
written every epoch; a killed run resumes from it and, on the CPU at the same number of
threads, ends with bitwise the same weights as an uninterrupted run (the data order and
augmentation come from one generator whose state is checkpointed, and CPU kernels are
deterministic at a given thread count; see `recipe_key`).

With `AVALLEY_CACHED_ONLY=1` in the environment, a network (or an SGD-after-SWA search) that
is not in the cache is an error (`NotInCache`) instead of a training run: the paper-scale
plan sets it for the chapters it executes after training every network they declared.
"""
from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, update_bn
from tqdm.auto import tqdm

from . import DATA_DIR, data, models
from .atomic import write_torch
from .errors import NotInCache, TrainingDiverged
from .recipes import Recipe
from .runtime import Runtime, eval_batch, exact_fp32

# Bump when a change to this file changes what a recipe trains into: old caches are ignored.
TRAINING_CODE_VERSION = 4     # 2: channels-last layout on the CPU too; 3: recipes renamed;
#                               4: every solution's BN re-estimated by one rule, optimizer kept


def learning_rate(recipe: Recipe, epoch: int) -> float:
    """Learning rate of 0-based `epoch`, as in the paper's code (`schedule` in train2.py):
    with t = epoch / T, T = swa_start (SWA) or epochs (plain SGD), and final value
    lr_end = swa_lr (SWA) or 0.01 * lr (plain SGD): lr for t <= 0.5, linear to lr_end at
    t = 0.9, then lr_end."""
    r = recipe
    t = epoch / (r.swa_start if r.swa else r.epochs)
    ratio = r.swa_lr / r.lr if r.swa else 0.01
    factor = 1.0 if t <= 0.5 else ratio if t > 0.9 else 1 - (1 - ratio) * (t - 0.5) / 0.4
    return r.lr * factor


@dataclass
class TrainResult:
    recipe: Recipe
    model: nn.Module              # last SGD iterate (eval mode, on the runtime's device)
    swa_model: nn.Module | None   # the SWA average as a plain module, BN recomputed; or None
    metrics: dict                 # {"sgd": {...}, "swa": {...}}: train/test loss and accuracy
    optimizer_state: dict         # the SGD optimizer's state at the end (momentum buffers)
    history: list                 # per epoch: lr, running train loss and accuracy, seconds
    seconds: float                # training time (of the run that produced the cache)
    from_cache: bool
    key: str
    num_classes: int
    input_shape: tuple


def recipe_key(recipe: Recipe, device_type: str) -> str:
    """Hash of the recipe, the device type (CUDA runs use bf16 and non-deterministic kernels,
    so they are different networks) and the code version. Not of the CPU's torch threads:
    a CPU run is bitwise repeatable at one thread count, but another count sums in another
    order and gives other weights (measured: the quick convnet after two epochs at 1 and at
    2 threads); the cache keeps the network of whichever run stored it first."""
    blob = json.dumps({"recipe": recipe.to_dict(), "device": device_type,
                       "code": TRAINING_CODE_VERSION}, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    """data/cache/train, or $AVALLEY_CACHE_DIR/train (the tests use a temporary one)."""
    return Path(os.environ.get("AVALLEY_CACHE_DIR", DATA_DIR / "cache")) / "train"


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, rt: Runtime,
             batch_size: int | None = None) -> dict:
    """Mean cross-entropy and accuracy in eval mode, without augmentation, in exact fp32
    (`runtime.exact_fp32`, the precision of every evaluation in the book); batches of
    `runtime.eval_batch` images unless `batch_size` is given."""
    batch_size = batch_size or eval_batch(x)
    model.eval()
    loss, correct = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    with torch.no_grad(), exact_fp32():
        for xb, yb in data.batches(x, y, batch_size):
            out = model(layout(xb)).float()
            loss += F.cross_entropy(out, yb, reduction="sum")
            correct += (out.argmax(1) == yb).sum()
    return {"loss": loss.item() / len(y), "acc": correct.item() / len(y)}


def layout(x):
    """Image batches in the channels-last layout, on every device: cuDNN and oneDNN (CPU)
    run convolutions fastest in it, and CPU max-pooling is ~10x faster than on NCHW."""
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


def bn_images(ds, recipe: Recipe) -> torch.Tensor:
    """The images of every BN re-estimation for this recipe's networks (the SGD iterate, the
    SWA average, an SGD-after-SWA iterate, each point of a line): one pass over the training
    set, augmented as the recipe trains, as the paper's `bn_update` runs over its augmented
    training loader. The augmentation is drawn once from a fixed generator, so that all of
    them see the same images (the paper draws new crops and flips each time)."""
    if not recipe.augment:
        return ds.x_train
    return data.crop_flip(ds.x_train, torch.Generator().manual_seed(recipe.seed + 1))


def recompute_bn(model: nn.Module, images: torch.Tensor, batch_size: int) -> nn.Module:
    """Re-estimate the BN statistics of `model` on `images`, with
    `torch.optim.swa_utils.update_bn` (a cumulative average over batches of `batch_size`),
    in fp32; the model is left in eval mode."""
    with torch.no_grad(), exact_fp32():
        update_bn((layout(xb) for xb in images.split(batch_size)), model)
    return model.eval()


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
    if not (folder / "result.pt").exists():
        _refuse_uncached(f"the network {recipe.model} on {recipe.dataset}, seed {recipe.seed}"
                         f" ({'SWA' if recipe.swa else 'no SWA'}, {recipe.epochs} epochs)",
                         folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)             # released when the file closes
        if (folder / "result.pt").exists():
            return _load_result(recipe, rt, key, folder / "result.pt")
        result = _train(recipe, rt, key, folder, progress)
        _save_result(result, folder / "result.pt")
        (folder / "checkpoint.pt").unlink(missing_ok=True)
        return result


def _refuse_uncached(what: str, folder: Path) -> None:
    if os.environ.get("AVALLEY_CACHED_ONLY") == "1":
        raise NotInCache(
            f"{what} is not in the training cache ({folder}), and this run may only read the "
            "cache (AVALLEY_CACHED_ONLY=1, set by `python -m avalley paper` for the chapters "
            "it executes): the chapter's declaration `needs` does not list it, so the plan "
            "did not train it. Add it to the chapter's `needs`.")


def after_swa_folder(lr: float, max_epochs: int) -> str:
    """The folder of an SGD-after-SWA search, inside its SWA run's cache folder."""
    return f"after_swa-lr{lr:g}-max{max_epochs}"


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
        gen.set_state(ck["generator"])
        torch.set_rng_state(ck["torch_rng"])       # dropout (VGG)
        history, start, seconds = ck["history"], ck["epoch"], ck["seconds"]
        print(f"{r.model} on {r.dataset}, seed {r.seed}: resuming after epoch {start} of "
              f"{r.epochs} from {ckpt_path}", file=sys.stderr, flush=True)

    n_batches = len(ds.y_train) // r.batch_size
    bar = tqdm(total=r.epochs * n_batches, initial=start * n_batches, disable=not progress,
               desc=f"{r.model} on {r.dataset}", unit="batch", leave=False)
    for epoch in range(start, r.epochs):
        t0 = time.time()
        in_swa = r.swa and epoch + 1 >= r.swa_start
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
        seconds += time.time() - t0
        history.append({"epoch": epoch + 1, "lr": lr, "train_loss": train_loss,
                        "train_acc": train_acc, "seconds": seconds,
                        "swa_snapshots": int(swa.n_averaged) if swa is not None else 0})
        if ckpt_path is not None:
            _save_checkpoint(ckpt_path, epoch + 1, model, opt, swa, gen, history,
                             seconds)
            _fault(epoch + 1)
    bar.close()

    # every solution's BN statistics are re-estimated by one rule (`bn_images`), as the
    # paper's code does for SWA and for both ends of its lines
    images = bn_images(ds, r)
    recompute_bn(model, images, r.batch_size)
    swa_model = recompute_bn(swa.module, images, r.batch_size) if swa is not None else None
    metrics = _metrics(model, swa_model, ds, rt)
    return TrainResult(r, model, swa_model, metrics, opt.state_dict(), history, seconds, False,
                       key, ds.num_classes, ds.input_shape)


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
            out = model(layout(xb))
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
    """SGD continued from the SWA weights (PAPER.md experiment 5, `sgd_after_swa.py`)."""
    history: list            # per epoch: train/test loss and accuracy of the iterate
    reference: dict          # the SWA solution's train/test loss and accuracy
    found_epoch: int | None  # first epoch with lower train loss and higher test loss than SWA
    model: nn.Module         # the chosen iterate: the one found, else the last one

    @property
    def chosen_epoch(self) -> int:
        return self.found_epoch or self.history[-1]["epoch"]

    @property
    def metrics(self) -> dict:
        return self.history[self.chosen_epoch - 1]


def after_swa(result: TrainResult, rt: Runtime, lr: float = 0.001, max_epochs: int = 50,
              cache: bool = True, root: Path | None = None, progress: bool = True) -> AfterSWA:
    """SGD after SWA, as the paper's `sgd_after_swa.py`: from the SWA weights and the SWA
    run's optimizer state (its momentum buffers), SGD at the constant learning rate `lr` with
    the recipe's momentum, weight decay, batch size and augmentation, for at most
    `max_epochs` epochs. After each epoch the iterate's BN statistics are re-estimated by the
    one rule (`bn_images`) and its train and test loss evaluated (eval mode, un-augmented);
    the search stops at the first iterate with a lower train loss and a higher test loss than
    SWA (the paper keeps every such checkpoint and its line uses one). Stored beside the SWA
    run in the training cache, with a checkpoint every epoch, so an interrupted search
    resumes."""
    if result.swa_model is None:
        raise ValueError("after_swa needs the result of an SWA run (recipe with swa_start)")
    r = result.recipe
    ds = data.load(r.dataset, r.n_train, r.n_test, seed=r.data_seed).to(rt.device)
    images = bn_images(ds, r)
    folder = None
    if cache:
        folder = (root or cache_dir()) / result.key / after_swa_folder(lr, max_epochs)
        if (folder / "result.pt").exists():
            return _load_after(result, rt, folder / "result.pt")
        _refuse_uncached(f"SGD after SWA (lr {lr:g}, at most {max_epochs} epochs) from "
                         f"{r.model} on {r.dataset}, seed {r.seed}", folder)
    model = copy.deepcopy(result.swa_model)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=r.momentum,
                          weight_decay=r.weight_decay)
    # the SWA run's momentum buffers (a copy: load_state_dict keeps the tensors it is given)
    opt.load_state_dict(copy.deepcopy(result.optimizer_state))
    for g in opt.param_groups:
        g["lr"] = lr
    gen = torch.Generator().manual_seed(r.seed + 2)
    ref, history, found, start = result.metrics["swa"], [], None, 0
    ckpt = folder / "checkpoint.pt" if folder is not None else None
    if ckpt is not None and ckpt.exists():
        ck = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        gen.set_state(ck["generator"])
        history, found, start = ck["history"], ck["found"], ck["epoch"]
    for epoch in tqdm(range(start + 1, max_epochs + 1), disable=not progress or found,
                      desc=f"SGD after SWA ({r.model}, seed {r.seed})", leave=False):
        if found:
            break
        sgd_epoch(model, opt, ds, r, gen, rt)
        evaluated = recompute_bn(copy.deepcopy(model), images, r.batch_size)
        m = train_test_metrics(evaluated, ds, rt)
        history.append({"epoch": epoch, **m})
        if m["train_loss"] < ref["train_loss"] and m["test_loss"] > ref["test_loss"]:
            found = epoch
        if ckpt is not None:
            write_torch(ckpt, {"epoch": epoch, "model": model.state_dict(),
                               "optimizer": opt.state_dict(), "generator": gen.get_state(),
                               "history": history, "found": found})
    recompute_bn(model, images, r.batch_size)
    out = AfterSWA(history, ref, found, model)
    if folder is not None:
        write_torch(folder / "result.pt", {"history": history, "reference": ref,
                                           "found": found, "model": model.state_dict()})
        ckpt.unlink(missing_ok=True)
    return out


def _load_after(result: TrainResult, rt: Runtime, path: Path) -> AfterSWA:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = _build(result.recipe, result.num_classes, result.input_shape, rt)
    model.load_state_dict(saved["model"])
    return AfterSWA(saved["history"], saved["reference"], saved["found"], model.eval())


def _fault(epoch: int) -> None:
    """Fault injection for the tests of resumption: with AVALLEY_KILL_AFTER_EPOCH=N, the
    process kills itself (SIGKILL, as an out-of-memory killer or a preempting scheduler
    would) right after the checkpoint of epoch N is on disk."""
    if os.environ.get("AVALLEY_KILL_AFTER_EPOCH") == str(epoch):
        os.kill(os.getpid(), signal.SIGKILL)


def _save_checkpoint(path, epoch, model, opt, swa, gen, history, seconds):
    write_torch(path, {
        "epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
        "swa": swa.state_dict() if swa is not None else None,
        "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
        "history": history, "seconds": seconds})


def _save_result(res: TrainResult, path: Path) -> None:
    write_torch(path, {
        "recipe": res.recipe.to_dict(), "model": res.model.state_dict(),
        "swa_model": res.swa_model.state_dict() if res.swa_model is not None else None,
        "metrics": res.metrics, "optimizer": res.optimizer_state, "history": res.history,
        "seconds": res.seconds,
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
    return TrainResult(recipe, model.eval(), swa_model, saved["metrics"], saved["optimizer"],
                       saved["history"], saved["seconds"], True, key, n_classes, shape)



