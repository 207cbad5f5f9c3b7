"""Named datasets as tensors, and a device-resident batch iterator.

`load(name)` returns a `Dataset` of float32 images (N, C, H, W) or signals (N, C, L) and
int64 labels on the CPU, normalized per channel with training-set statistics. Subsets are
stratified and seeded, so one `seed` always picks the same images.

Training does not use a DataLoader: the whole dataset lives on the device and `batches`
slices it, augmenting on the device in one vectorized call per batch (as fast CIFAR
trainers do). For small nets this removes the per-sample Python overhead that dominates.
"""
from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from . import DATA_DIR
from .errors import DatasetMissing, ParameterError

DATASETS = ("digits", "mnist1d", "fashion-mnist", "cifar10", "cifar100")
# (training, test) examples of each dataset in full (MNIST-1D: the package's default sizes)
SIZES = {"digits": (1347, 450), "mnist1d": (4000, 1000), "fashion-mnist": (60000, 10000),
         "cifar10": (50000, 10000), "cifar100": (50000, 10000)}

FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CIFAR = {  # name -> (torchvision class name, folder, train files, test files, label key)
    "cifar10": ("CIFAR10", "cifar-10-batches-py",
                [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels"),
    "cifar100": ("CIFAR100", "cifar-100-python", ["train"], ["test"], "fine_labels"),
}


def datasets_dir() -> Path:
    """data/datasets, or $AVALLEY_DATASETS_DIR."""
    return Path(os.environ.get("AVALLEY_DATASETS_DIR", DATA_DIR / "datasets"))


@dataclass
class Dataset:
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    input_shape: tuple

    def to(self, device) -> Dataset:
        return replace(self, **{k: getattr(self, k).to(device)
                                for k in ("x_train", "y_train", "x_test", "y_test")})

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train {tuple(self.x_train.shape)}, "
                f"test {tuple(self.x_test.shape)}, {self.num_classes} classes, "
                f"{self.x_train.device})")


def load(name: str, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
         root: str | Path | None = None, download: bool = True) -> Dataset:
    """Dataset `name` with at most `n_train`/`n_test` examples (stratified, seeded subsets).

    `root` replaces `data/datasets/` (and, for Fashion-MNIST, the Debian folder is then not
    searched). `download=False` never touches the network.
    """
    if name not in DATASETS:
        raise ParameterError(f"Unknown dataset {name!r}. Valid datasets: {', '.join(DATASETS)}.")
    base = Path(root) if root is not None else datasets_dir()
    if name == "digits":
        xtr, ytr, xte, yte = _digits()
    elif name == "mnist1d":
        xtr, ytr, xte, yte = _mnist1d(n_train, n_test)
    elif name == "fashion-mnist":
        xtr, ytr, xte, yte = _fashion(base, search_debian=root is None, download=download)
    else:
        xtr, ytr, xte, yte = _cifar(name, base, download)
    itr, ite = _subset(ytr, n_train, seed), _subset(yte, n_test, seed)
    xtr, xte = xtr[itr].astype(np.float32), xte[ite].astype(np.float32)  # raw scale is
    ytr, yte = ytr[itr], yte[ite]                     # irrelevant: normalization removes it
    # per-channel statistics of the (sub)training set, applied to both splits
    axes = (0,) + tuple(range(2, xtr.ndim))
    mean = xtr.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = xtr.std(axis=axes, keepdims=True, dtype=np.float64)
    def norm(x):
        return torch.from_numpy(((x - mean) / std).astype(np.float32))
    num_classes = {"cifar100": 100}.get(name, 10)
    return Dataset(name, norm(xtr), torch.from_numpy(ytr.astype(np.int64)), norm(xte),
                   torch.from_numpy(yte.astype(np.int64)), num_classes, tuple(xtr.shape[1:]))


def _subset(y: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Indices of a class-stratified random subset of size n (all, in order, if n is None)."""
    if n is None or n >= len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = d.images[:, None]                             # (1797, 1, 8, 8), values 0..16
    # one fixed split for the whole book (independent of `seed`): 1347 train, 450 test
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=450, stratify=d.target,
                                          random_state=0)
    return xtr, ytr, xte, yte


def _mnist1d(n_train, n_test):
    """mnist1d's own generator with its default arguments (seed 42); only the sizes change.
    Default sizes are the package's: 4000 train, 1000 test."""
    from mnist1d.data import get_dataset_args, make_dataset
    args = get_dataset_args()
    n_train, n_test = n_train or 4000, n_test or 1000
    args.num_samples = -(-(n_train + n_test) // 10) * 10    # make_dataset wants a multiple of 10
    args.train_split = n_train / args.num_samples
    state = np.random.get_state()                 # make_dataset reseeds NumPy's global RNG
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)
    return (d["x"][:n_train, None], d["y"][:n_train],
            d["x_test"][-n_test:, None], d["y_test"][-n_test:])


def _read_idx(path: Path) -> np.ndarray:
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def ensure(name: str, root: str | Path | None = None, download: bool = True) -> None:
    """Make sure the files of dataset `name` are on disk (downloading them when allowed and
    possible), without reading them; raise the same DatasetMissing as `load` otherwise.
    The book's pre-flight (`avalley.book.datasets`) calls it before any chapter starts."""
    if name not in DATASETS:
        raise ParameterError(f"Unknown dataset {name!r}. Valid datasets: {', '.join(DATASETS)}.")
    base = Path(root) if root is not None else datasets_dir()
    if name == "fashion-mnist":
        _fashion_paths(base, search_debian=root is None, download=download)
    elif name in CIFAR:
        _cifar_folder(name, base, download)


def _fashion(base: Path, search_debian: bool, download: bool):
    paths = _fashion_paths(base, search_debian, download)
    xtr, ytr, xte, yte = (_read_idx(p) for p in paths)
    return xtr[:, None], ytr, xte[:, None], yte


def _fashion_paths(base: Path, search_debian: bool, download: bool) -> list[Path]:
    folders = ([FASHION_DEBIAN] if search_debian else []) + [
        base / "fashion-mnist", base / "FashionMNIST" / "raw"]   # the last: torchvision's

    def find():
        for folder in folders:
            paths = [_gz_or_raw(folder / f) for f in FASHION_FILES]
            if all(p is not None for p in paths):
                return paths
        return None

    paths = find()
    if paths is None and download:
        try:
            import torchvision
            torchvision.datasets.FashionMNIST(base, train=True, download=True)
            torchvision.datasets.FashionMNIST(base, train=False, download=True)
        except Exception as e:  # offline, or the mirror is down
            print(f"Fashion-MNIST download failed: {e}")
        paths = find()
    if paths is None:
        raise DatasetMissing(
            "Fashion-MNIST not found. Install Debian's package `dataset-fashion-mnist` "
            f"(files in {FASHION_DEBIAN}/), or place the files {', '.join(FASHION_FILES)} "
            f"(gzipped or not) in {base / 'fashion-mnist'}/; searched: "
            f"{', '.join(map(str, folders))}" + ("" if download else " (download=False)."))
    return paths


def _gz_or_raw(path: Path) -> Path | None:
    raw = path.with_suffix("")
    return path if path.exists() else raw if raw.exists() else None


def _cifar(name: str, base: Path, download: bool):
    """Read torchvision's on-disk format (pickled batches) directly, without its checksum
    step, downloading through torchvision first when the files are absent."""
    folder = _cifar_folder(name, base, download)
    _, _, train_files, test_files, label_key = CIFAR[name]

    def read(files):
        xs, ys = [], []
        for f in files:
            with open(folder / f, "rb") as fh:
                entry = pickle.load(fh, encoding="latin1")
            xs.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.extend(entry[label_key])
        return np.concatenate(xs), np.asarray(ys)

    return (*read(train_files), *read(test_files))


def _cifar_folder(name: str, base: Path, download: bool) -> Path:
    cls, folder, train_files, test_files, _ = CIFAR[name]
    folder = base / folder

    def missing():
        return [f for f in train_files + test_files if not (folder / f).exists()]

    if missing() and download:
        try:
            import torchvision
            getattr(torchvision.datasets, cls)(base, download=True)
        except Exception as e:
            print(f"{name} download failed: {e}")
    if missing():
        url = getattr(__import__("torchvision").datasets, cls).url
        raise DatasetMissing(
            f"{name} not found: missing {', '.join(missing())} in {folder}/. Place the "
            f"extracted archive {url} there (folder {folder.name}/ with "
            f"{', '.join(train_files + test_files)}), or run once with network access.")
    return folder


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = False,
            generator: torch.Generator | None = None, augment: bool | None = None,
            drop_last: bool = False):
    """Yield (x, y) batches sliced from device tensors.

    `shuffle` draws a permutation from `generator` (a CPU generator, so the order is the
    same on every device). `augment` (images only): random crop with zero padding 4 and
    random horizontal flip, per image, vectorized on the device; zero is the mean pixel
    after normalization. The random numbers also come from `generator`.
    """
    n = len(x)
    order = torch.randperm(n, generator=generator).to(x.device) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size] if shuffle else slice(i, i + batch_size)
        xb, yb = x[idx], y[idx]
        if augment:
            xb = crop_flip(xb, generator)
        yield xb, yb


def crop_flip(x: torch.Tensor, generator: torch.Generator | None = None, pad: int = 4):
    """Random crop (zero padding `pad`) and horizontal flip of a batch (N, C, H, W)."""
    if x.ndim != 4:
        raise ValueError(f"augmentation needs images (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    shifts = torch.randint(0, 2 * pad + 1, (2, n), generator=generator).to(x.device)
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = (shifts[0, :, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (shifts[1, :, None] + torch.arange(w, device=x.device))
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]
    out = padded[torch.arange(n, device=x.device)[:, None, None, None],
                 torch.arange(c, device=x.device)[None, :, None, None], rows, cols]
    return out
