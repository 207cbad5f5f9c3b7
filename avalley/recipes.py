"""Training recipes: the `Recipe` type, and the named recipes the chapters share so that
`directions`, `bias`, `swa` and `training` ask for the same networks and find them in the
training cache.

A name means one network at every profile (model, data, budget): `get("convnet-bn-fmnist",
seed=3)` is the same recipe whoever asks. A chapter's parameters name the recipes each
profile uses. `get(..., swa=False)` is the paper's SGD baseline: the same script without
SWA (same epochs, learning rate decayed to 1% of its start, `avalley.training.learning_rate`).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from . import data, models
from .errors import ParameterError


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
    swa_start: int | None = None
    swa_lr: float = 0.05
    augment: bool = False            # random crop (padding 4) and horizontal flip
    compile: bool = False            # torch.compile the training forward (for GPUs)

    def __post_init__(self):
        if self.dataset not in data.DATASETS:
            raise ParameterError(f"Unknown dataset {self.dataset!r}. "
                                 f"Valid datasets: {', '.join(data.DATASETS)}.")
        if self.model not in models.MODELS:
            raise ParameterError(f"Unknown model {self.model!r}. "
                                 f"Valid models: {', '.join(models.MODELS)}.")
        if self.epochs < 1 or self.batch_size < 1:
            raise ParameterError(f"epochs and batch_size must be at least 1, got "
                                 f"{self.epochs} and {self.batch_size}.")
        if self.swa_start is not None and not 1 <= self.swa_start <= self.epochs:
            raise ParameterError(f"swa_start must be in 1..epochs={self.epochs}, "
                                 f"got {self.swa_start}.")

    @property
    def swa(self) -> bool:
        return self.swa_start is not None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# PAPER.md experiment 4 (the SWA repository's public recipe for PreResNet-164, with He et
# al.'s swa_lr 0.05)
_PRERESNET164 = dict(model="preresnet164", dataset="cifar10", epochs=225, batch_size=128,
                     lr=0.1, momentum=0.9, weight_decay=3e-4, swa_start=126, swa_lr=0.05,
                     augment=True)
# The SWA repository's WRN-28-10 and VGG-16 recipes (not listed in He et al.; used for the
# BN comparison of PAPER.md experiment 7)
_WRN = dict(dataset="cifar10", epochs=300, batch_size=128, lr=0.1, momentum=0.9,
            weight_decay=5e-4, swa_start=161, swa_lr=0.05, augment=True)
_VGG = dict(dataset="cifar10", epochs=300, batch_size=128, lr=0.05, momentum=0.9,
            weight_decay=5e-4, swa_start=161, swa_lr=0.01, augment=True)

# The quick BN convnet, chosen by the paper's regime (REGIME below), measured on candidate
# recipes before any SWA-versus-SGD difference was looked at: scripts/quick_recipe_regime.py,
# output in data/regime/quick_recipe.md. 2,000 Fashion-MNIST training images without
# augmentation, batches of 32 (62 SGD steps an epoch: at batch 128 SGD settled on the
# memorized data and stopped bouncing at the SWA learning rate; with augmentation the net did
# not fit its training data in this budget), 30 epochs with SWA from epoch 11 (20
# snapshots, 67% of the run). 5,000 test images keep a line point cheap on a CPU; the
# findings pair SWA and SGD on the same test images.
_CONVNET_FMNIST = dict(dataset="fashion-mnist", n_train=2000, n_test=5000,
                       model_kwargs={"widths": (16, 64, 128)}, epochs=30, batch_size=32,
                       lr=0.1, momentum=0.9, weight_decay=5e-4, swa_start=11, swa_lr=0.05)
_CONVNET_DIGITS = dict(dataset="digits", n_train=300, n_test=200,
                       model_kwargs={"widths": (8, 16)}, epochs=4, batch_size=64,
                       lr=0.1, weight_decay=5e-4, swa_start=2, swa_lr=0.05)
_MLP_MNIST1D = dict(dataset="mnist1d", model="mlp", model_kwargs={"width": 256}, epochs=30,
                    batch_size=128, lr=0.05, weight_decay=5e-4, swa_start=16, swa_lr=0.02)

_RECIPES = {
    # quick profile (CPU, offline data)
    "convnet-bn-fmnist": dict(_CONVNET_FMNIST, model="convnet-bn"),
    # the same net without BN, for the BN comparison of the directions chapter: the same
    # images, epochs, batch size and schedule. Its learning rate was chosen by measured
    # training loss alone (scripts/no_bn_recipe.py, output in data/regime/no_bn_recipe.md):
    # SGD baselines at lr 0.02, 0.05, 0.07, 0.1, 0.15 end at median training losses 0.18,
    # 0.045, 0.021, 0.021, 0.045 (seeds 0 and 1) against 0.011 with BN; lr 0.1 is the closest
    # (1.9 times the BN network's) and is the BN recipe's own, so the two recipes differ only
    # in the model.
    "convnet-fmnist": dict(_CONVNET_FMNIST, model="convnet"),
    "mlp-mnist1d": _MLP_MNIST1D,
    # smoke profile (seconds; proves the code path, not the claims)
    "convnet-bn-digits": dict(_CONVNET_DIGITS, model="convnet-bn"),
    "convnet-digits": dict(_CONVNET_DIGITS, model="convnet", lr=0.05, swa_lr=0.02),
    "mlp-mnist1d-tiny": dict(_MLP_MNIST1D, n_train=500, n_test=200, epochs=4, swa_start=2),
    # paper profile (GPUs)
    "preresnet164-cifar10": _PRERESNET164,
    "preresnet164-cifar100": dict(_PRERESNET164, dataset="cifar100"),
    "densenet-bc-100-cifar10": dict(_PRERESNET164, model="densenet-bc-100", weight_decay=1e-4),
    "wrn-28-10-bn-cifar10": dict(_WRN, model="wrn-28-10-bn"),
    "wrn-28-10-cifar10": dict(_WRN, model="wrn-28-10", lr=0.05, swa_lr=0.01),
    "vgg16-bn-cifar10": dict(_VGG, model="vgg16-bn"),    # only BN differs from vgg16
    "vgg16-cifar10": dict(_VGG, model="vgg16"),
}


def _bn_init(name: str, how: str) -> dict:
    """Recipe `name` with its BN scales initialized `how` (models.BN_WEIGHT_INITS): the one
    difference, for the origins chapter's BN-initialization comparison (Li et al. 2024)."""
    base = _RECIPES[name]
    return dict(base, model_kwargs={**base.get("model_kwargs", {}), "bn_weight_init": how})


_RECIPES.update({
    # the quick, smoke and paper BN networks with their BN scales started from U(0, 1) or
    # N(0, 0.1) instead of 1 (Li et al. 2024); everything else as the recipe they extend
    "convnet-bn-fmnist-bninit-uniform": _bn_init("convnet-bn-fmnist", "uniform"),
    "convnet-bn-fmnist-bninit-normal": _bn_init("convnet-bn-fmnist", "normal"),
    "convnet-bn-digits-bninit-uniform": _bn_init("convnet-bn-digits", "uniform"),
    "convnet-bn-digits-bninit-normal": _bn_init("convnet-bn-digits", "normal"),
    "preresnet164-cifar10-bninit-uniform": _bn_init("preresnet164-cifar10", "uniform"),
    "preresnet164-cifar10-bninit-normal": _bn_init("preresnet164-cifar10", "normal"),
})
RECIPES = tuple(_RECIPES)


# The paper's regime, the one definition of the book (stated before any quick recipe was
# trained; scripts/quick_recipe_regime.py measures the candidates against it): PreResNet-164
# on CIFAR-10 averages 100 epochs of snapshots (44% of the run) at half the initial learning
# rate, where SGD still bounces, on a network that fits its training data far better than
# its test data.
REGIME = {"fit": 3.0,        # the SGD baseline's test loss over its training loss, at least
          "snapshots": 20,   # SWA snapshots (one per epoch), at least
          "share": 0.4,      # ... and this share of the run's epochs, at least
          "noise": 2.0}      # the SWA run's last iterate's training loss over the baseline's


def regime(recipe: Recipe, baseline: dict, last_iterate: dict) -> dict:
    """The recipe's regime from the metrics of its SGD baseline and of the last SGD iterate
    of its SWA run (train_loss, test_loss): each measure, whether it meets `REGIME`, and
    `met` (all three)."""
    snapshots = recipe.epochs - recipe.swa_start + 1 if recipe.swa else 0
    out = {"fit": baseline["test_loss"] / baseline["train_loss"], "snapshots": snapshots,
           "share": snapshots / recipe.epochs,
           "noise": last_iterate["train_loss"] / baseline["train_loss"]}
    out["fit_ok"] = out["fit"] >= REGIME["fit"]
    out["averaging_ok"] = snapshots >= REGIME["snapshots"] and out["share"] >= REGIME["share"]
    out["noise_ok"] = out["noise"] >= REGIME["noise"]
    out["met"] = out["fit_ok"] and out["averaging_ok"] and out["noise_ok"]
    return out


def shrink(fields: dict, scale: float) -> dict:
    """A recipe's budget times `scale` (the chapters' `scale` parameter), nothing else
    changed: epochs (at least 1) and the SWA start with them, training images to at least
    two batches and test images to at least one (and at least one per class, for the
    stratified subsets)."""
    if scale >= 1:
        return fields
    epochs = max(1, round(fields["epochs"] * scale))
    full_train, full_test = data.SIZES[fields["dataset"]]
    classes = 100 if fields["dataset"] == "cifar100" else 10
    batch = fields.get("batch_size", 128)
    out = dict(fields, epochs=epochs,
               n_train=max(2 * batch, classes, round((fields.get("n_train") or full_train)
                                                     * scale)),
               n_test=max(batch, classes, round((fields.get("n_test") or full_test) * scale)))
    if fields.get("swa_start") is not None:
        out["swa_start"] = min(epochs, max(1, round(fields["swa_start"] * scale)))
    return out


def get(name: str, seed: int = 0, swa: bool = True, scale: float = 1.0,
        **overrides) -> Recipe:
    """The shared recipe `name` for training seed `seed`; swa=False is its SGD baseline;
    scale < 1 shrinks its budget (`shrink`). `overrides` replace single fields (a chapter
    that overrides one trains its own network, outside the shared set). With
    AVALLEY_COMPILE=1 in the environment (`python -m avalley paper --compile` sets it for
    every job and chapter), `compile` defaults to True: torch.compile'd training, a network
    of its own in the cache."""
    if name not in _RECIPES:
        raise ParameterError(f"Unknown recipe {name!r}. Valid recipes: {', '.join(RECIPES)}.")
    if os.environ.get("AVALLEY_COMPILE") == "1":
        overrides.setdefault("compile", True)
    fields = shrink(dict(_RECIPES[name], seed=seed, **overrides), scale)
    if not swa:
        fields["swa_start"] = None
    unknown = set(fields) - {f.name for f in dataclasses.fields(Recipe)}
    if unknown:
        raise ParameterError(f"Unknown recipe field(s) {sorted(unknown)}.")
    return Recipe(**fields)
