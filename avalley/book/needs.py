"""What a chapter run needs from the training cache, and what its scans cost: the vocabulary
of a chapter declaration's `needs(p)` (chapters/NN_name.params.py).

`needs(p)` receives the chapter's validated parameters and returns a list of:

- `Network(recipe, seed, swa)`: a network the chapter gets from `avalley.training.train`
  (`recipes.get(recipe, seed, swa=swa, scale=p["scale"])`);
- `AfterSWA(recipe, seed, lr, max_epochs)`: SGD continued from that SWA network
  (`avalley.training.after_swa`);
- `Evaluation(recipe, images, what)`: forward passes of `images` images through the
  recipe's network in exact fp32 (scans, BN re-estimation): only for the time estimate.

The paper-scale planner (`avalley.book.plan`) turns the first two into training jobs, run
before the chapter, and the chapter then reads them from the cache; the test of the plan
checks that no chapter trains a network its `needs` did not list.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    recipe: str
    seed: int
    swa: bool


@dataclass(frozen=True)
class AfterSWA:
    recipe: str
    seed: int
    lr: float
    max_epochs: int


@dataclass(frozen=True)
class Evaluation:
    recipe: str
    images: int
    what: str = "scans"


def images(recipe) -> tuple[int, int]:
    """(training, test) images of a `Recipe` (its subset sizes, else the full dataset's)."""
    from ..data import SIZES
    full_train, full_test = SIZES[recipe.dataset]
    return recipe.n_train or full_train, recipe.n_test or full_test


def has_bn(model: str) -> bool:
    """Whether the model of `avalley.models` named `model` has BN layers (a `-bn` suffix;
    PreResNet-164 and DenseNet-BC-100 always have them)."""
    return model.endswith("-bn") or model in ("preresnet164", "densenet-bc-100")
