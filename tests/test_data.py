import pickle

import numpy as np
import pytest
import torch

from avalley import data
from avalley.errors import DatasetMissing, ParameterError


def test_digits_fixed_stratified_split_normalized():
    d = data.load("digits")
    assert d.x_train.shape == (1347, 1, 8, 8) and d.x_test.shape == (450, 1, 8, 8)
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert abs(d.x_train.mean().item()) < 1e-5 and abs(d.x_train.std().item() - 1) < 1e-3
    counts = d.y_test.bincount()
    assert (counts - 45).abs().max() <= 2          # stratified (class sizes 174..183)
    assert torch.equal(d.x_test, data.load("digits", seed=5).x_test)   # split is fixed


def test_subsets_are_stratified_and_seeded():
    a, b = data.load("digits", 500, 100, seed=1), data.load("digits", 500, 100, seed=1)
    c = data.load("digits", 500, 100, seed=2)
    assert a.x_train.shape[0] == 500 and a.x_test.shape[0] == 100
    assert torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_train, c.x_train)
    assert a.y_train.bincount().min() >= 49 and a.y_train.bincount().max() <= 51


def test_mnist1d_sizes_and_global_rng_untouched():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    d = data.load("mnist1d", n_train=300, n_test=100)
    assert np.random.rand() == expected           # make_dataset's reseeding was undone
    assert d.x_train.shape == (300, 1, 40) and d.x_test.shape == (100, 1, 40)
    assert d.input_shape == (1, 40) and set(d.y_train.tolist()) == set(range(10))


@pytest.mark.skipif(not data.FASHION_DEBIAN.exists(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian():
    d = data.load("fashion-mnist", n_train=1000, n_test=500)
    assert d.x_train.shape == (1000, 1, 28, 28) and d.x_test.shape == (500, 1, 28, 28)
    assert (d.y_train.bincount() == 100).all()


def test_fashion_mnist_missing_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetMissing) as e:
        data.load("fashion-mnist", root=tmp_path, download=False)
    msg = str(e.value)
    assert str(tmp_path / "fashion-mnist") in msg and "train-images-idx3-ubyte.gz" in msg
    assert "dataset-fashion-mnist" in msg


def _fake_cifar(root, name, n_per_file=20):
    """A small folder in torchvision's on-disk format (pickled dicts of uint8 rows)."""
    _, folder, train, test, key = data.CIFAR[name]
    (root / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)
    classes = 100 if name == "cifar100" else 10
    for f in train + test:
        entry = {"data": rng.integers(0, 256, (n_per_file, 3072), dtype=np.uint8),
                 key: list(np.arange(n_per_file) % classes)}
        with open(root / folder / f, "wb") as fh:
            pickle.dump(entry, fh)
    return root / folder


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_offline_from_torchvision_format(tmp_path, name):
    _fake_cifar(tmp_path, name)
    d = data.load(name, root=tmp_path, download=False)
    n_train = 100 if name == "cifar10" else 20
    assert d.x_train.shape == (n_train, 3, 32, 32) and d.x_test.shape == (20, 3, 32, 32)
    assert d.num_classes == (100 if name == "cifar100" else 10)
    per_channel = d.x_train.mean(dim=(0, 2, 3))
    assert per_channel.abs().max() < 1e-5                          # per-channel normalized


def test_cifar_missing_files_name_folder_and_files(tmp_path):
    folder = _fake_cifar(tmp_path, "cifar10")
    (folder / "data_batch_3").unlink()
    with pytest.raises(DatasetMissing) as e:
        data.load("cifar10", root=tmp_path, download=False)
    assert str(folder) in str(e.value) and "data_batch_3" in str(e.value)
    with pytest.raises(DatasetMissing, match="cifar-100-python"):
        data.load("cifar100", root=tmp_path, download=False)


def test_unknown_dataset_lists_choices():
    with pytest.raises(ParameterError, match="fashion-mnist"):
        data.load("imagenet")


def test_batches_cover_each_example_once_per_epoch():
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    g = torch.Generator().manual_seed(0)
    got = torch.cat([yb for _, yb in data.batches(x, y, 3, shuffle=True, generator=g)])
    assert sorted(got.tolist()) == list(range(10)) and got.tolist() != list(range(10))
    dropped = [len(yb) for _, yb in data.batches(x, y, 3, shuffle=True, generator=g,
                                                 drop_last=True)]
    assert dropped == [3, 3, 3]


def test_crop_flip_matches_a_per_image_loop():
    x = torch.randn(16, 3, 8, 8)
    out = data.crop_flip(x, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)                 # replay the same random draws
    shifts = torch.randint(0, 9, (2, 16), generator=g)
    flip = torch.rand(16, generator=g) < 0.5
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(16):
        dy, dx = shifts[:, i].tolist()
        ref = padded[i, :, dy:dy + 8, dx:dx + 8]
        assert torch.equal(out[i], ref.flip(2) if flip[i] else ref)


def test_ensure_checks_files_without_reading_them(tmp_path):
    with pytest.raises(DatasetMissing, match="cifar-10-batches-py"):
        data.ensure("cifar10", root=tmp_path, download=False)
    with pytest.raises(ParameterError, match="Valid datasets"):
        data.ensure("imagenet", root=tmp_path, download=False)
    data.ensure("digits", root=tmp_path, download=False)     # bundled: nothing to check
