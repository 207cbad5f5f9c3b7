"""The dataset pre-flight: `python -m avalley datasets` (the first step of `make book`)
finds Fashion-MNIST or says what to do, before any chapter runs; no network is used."""
import gzip

import numpy as np
import pytest
import torchvision

from avalley import data
from avalley.book import cli, datasets


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def no_system_sources(tmp_path, monkeypatch):
    """No Debian folder, no apt, no download: only $AVALLEY_DATASETS_DIR counts."""
    monkeypatch.setenv("AVALLEY_DATASETS_DIR", str(tmp_path / "datasets"))
    monkeypatch.setattr(data, "FASHION_DEBIAN", tmp_path / "no-debian")
    monkeypatch.setattr(datasets, "_apt_install", lambda package: False)

    def offline(*args, **kwargs):
        raise OSError("offline (test)")
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    return tmp_path / "datasets"


def test_absent_dataset_stops_with_what_to_do(no_system_sources, capsys):
    assert cli.main(["datasets"]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "Fashion-MNIST not found" in err and "dataset-fashion-mnist" in err
    assert str(no_system_sources / "fashion-mnist") in err and "Traceback" not in err


def test_present_dataset_passes(no_system_sources, capsys):
    folder = no_system_sources / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in (("train", 20), ("t10k", 10)):
        _write_idx(folder / f"{name}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(folder / f"{name}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    assert cli.main(["datasets"]) == 0
    assert "fashion-mnist: available" in capsys.readouterr().err
    assert data.load("fashion-mnist").x_train.shape == (20, 1, 28, 28)


def test_apt_is_tried_before_the_download(no_system_sources, monkeypatch):
    tried = []
    monkeypatch.setattr(datasets, "_apt_install", lambda package: tried.append(package))
    with pytest.raises(FileNotFoundError):
        datasets.ensure("fashion-mnist")
    assert tried == ["dataset-fashion-mnist"]


def test_the_book_needs_fashion_mnist_and_mnist1d():
    assert datasets.needed_by_book() == {"fashion-mnist", "mnist1d"}
