"""The landscape engine against the plain per-point loop, in every BN mode."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from avalley import landscape as L
from avalley.directions import random_direction


def convnet(bn=True):
    norm = (lambda c: nn.BatchNorm2d(c)) if bn else (lambda c: nn.Identity())
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), norm(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), norm(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))


def mlp(bn=True):
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16) if bn else nn.Identity(),
                         nn.ReLU(), nn.Linear(16, 3))


def data(shape, n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g), torch.randint(0, 3, (n,), generator=g)


def setup_model(make, shape, bn=True):
    torch.manual_seed(0)
    model = make(bn)
    train, test = data(shape, 50, 1), data(shape, 30, 2)
    model.train()
    with torch.no_grad():               # non-trivial running statistics at the centre
        model(train[0])
    return model.eval(), train, test


CASES = [(convnet, (1, 8, 8)), (mlp, (6,))]


@pytest.mark.parametrize("make,shape", CASES)
@pytest.mark.parametrize("bn_mode", L.BN_MODES)
@pytest.mark.parametrize("chunk", [1, 4])
def test_line_equals_reference(make, shape, bn_mode, chunk):
    model, train, test = setup_model(make, shape)
    u = random_direction(model, "gaussian", seed=3)
    ls = np.linspace(-2, 2, 7)
    # bn_batch 16 leaves a short last batch: update_bn averages batches, not samples
    got = L.line(model, u, ls, train, test, bn_mode=bn_mode, bn_batch=16, chunk=chunk)
    ref = L.reference_line(model, u, ls, train, test, bn_mode=bn_mode, bn_batch=16)
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        np.testing.assert_allclose(getattr(got, key), getattr(ref, key), atol=1e-5, rtol=0)
    assert got.meta["bn_mode"] == bn_mode and got.meta["directions"][0]["kind"] == "gaussian"


@pytest.mark.parametrize("bn_mode", L.BN_MODES)
def test_plane_point_equals_reference(bn_mode):
    model, train, test = setup_model(convnet, (1, 8, 8))
    u, v = random_direction(model, "filter", seed=1), random_direction(model, "uniform", seed=2)
    scan = L.plane(model, u, v, [0.0, 0.5], [-0.3, 0.0, 0.3], train, test, bn_mode=bn_mode,
                   bn_batch=16)
    assert scan.coords.shape == (6, 2)
    # the point (0.5, -0.3) is a point on the line through w along 0.5u - 0.3v
    w = 0.5 * u.vec - 0.3 * v.vec
    along = type(u)(w / w.norm(), u.names, u.shapes, {})
    ref = L.reference_line(model, along, [float(w.norm())], train, test, bn_mode=bn_mode,
                           bn_batch=16)
    assert abs(scan.train_loss[3] - ref.train_loss[0]) < 1e-5
    assert abs(scan.test_loss[3] - ref.test_loss[0]) < 1e-5


@pytest.mark.parametrize("make,shape", CASES)
def test_centre_is_direct_evaluation(make, shape):
    model, train, test = setup_model(make, shape)
    u = random_direction(model, "uniform", seed=0)
    scan = L.line(model, u, [0.0], train, test, bn_mode="eval")
    assert np.allclose([scan.train_loss[0], scan.train_acc[0]], L.evaluate(model, *train),
                       atol=1e-6)
    assert np.allclose([scan.test_loss[0], scan.test_acc[0]], L.evaluate(model, *test),
                       atol=1e-6)


def test_endpoint_is_direct_evaluation():
    model, train, test = setup_model(mlp, (6,))
    u = random_direction(model, "layer", seed=4)
    moved = setup_model(mlp, (6,))[0]
    torch.nn.utils.vector_to_parameters(torch.nn.utils.parameters_to_vector(
        moved.parameters()).detach() + 1.5 * u.vec, moved.parameters())
    scan = L.line(model, u, [-1.0, 1.5], train, test, bn_mode="eval")
    assert np.allclose([scan.test_loss[1], scan.test_acc[1]], L.evaluate(moved, *test),
                       atol=1e-5)


def test_without_bn_modes_agree():
    model, train, test = setup_model(convnet, (1, 8, 8), bn=False)
    u = random_direction(model, "gaussian", seed=5)
    scans = [L.line(model, u, [-1.0, 0.5, 2.0], train, test, bn_mode=m).train_loss
             for m in L.BN_MODES]
    assert np.allclose(scans[0], scans[1], atol=1e-6) and np.allclose(scans[0], scans[2],
                                                                      atol=1e-6)


def test_unknown_mode_refused():
    model, train, test = setup_model(mlp, (6,))
    with pytest.raises(L.ParameterError, match="recompute"):
        L.line(model, random_direction(model), [0.0], train, test, bn_mode="train")


def test_dataloader_reference_and_small_eval_batches_agree():
    """The DataLoader-fed reference (the paper's data path) and an engine that evaluates in
    batches smaller than the data give the same numbers."""
    model, train, test = setup_model(convnet, (1, 8, 8))
    u = random_direction(model, "uniform", seed=1)
    ls = np.linspace(-1, 1, 3)
    ref = L.reference_line(model, u, ls, train, test, bn_mode="recompute", bn_batch=16)
    via_loader = L.reference_line(model, u, ls, train, test, bn_mode="recompute", bn_batch=16,
                                  dataloader=True)
    small = L.line(model, u, ls, train, test, bn_mode="recompute", bn_batch=16, eval_batch=7)
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        np.testing.assert_allclose(getattr(via_loader, key), getattr(ref, key), atol=1e-6)
        np.testing.assert_allclose(getattr(small, key), getattr(ref, key), atol=1e-5)


def test_engine_keeps_conv_activations_channels_last_on_cpu():
    """The weights of a point must be in the channels-last layout too, or the convs fall back
    to NCHW activations (and CPU max-pooling is ~10x slower); a first conv with one input
    channel is the case where `.contiguous(channels_last)` silently keeps NCHW strides."""
    model, train, test = setup_model(convnet, (1, 8, 8))
    engine = L._Engine(model, torch.device("cpu"))
    seen = {"stats": [], "eval": []}
    for net, key in ((engine.net, "stats"), (engine.eval_net, "eval")):
        net[0].register_forward_hook(lambda m, i, o, key=key: seen[key].append(
            o.is_contiguous(memory_format=torch.channels_last) and not o.is_contiguous()))
    W = torch.cat([p.detach().flatten() for p in model.parameters()])[None]
    engine.run(W, train, test, "recompute", 16, 128)
    assert seen["stats"] and all(seen["stats"]) and seen["eval"] and all(seen["eval"])


def bn_after_relu(bn=True):
    """One BN that follows a conv (folded in eval passes), one that follows a ReLU (kept)."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4),
                         nn.ReLU(), nn.BatchNorm2d(4), nn.Conv2d(4, 6, 3, padding=1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))


@pytest.mark.parametrize("make,shape,folded,kept", [
    (convnet, (1, 8, 8), 2, 0), (mlp, (6,), 1, 0), (bn_after_relu, (1, 8, 8), 1, 1)])
@pytest.mark.parametrize("bn_mode", ["eval", "recompute"])
def test_folded_bn_is_the_same_function(make, shape, folded, kept, bn_mode):
    """Eval passes fold each BN that follows a conv or linear layer into it (adding a bias
    where the layer had none) and keep the others; the numbers stay the loop's."""
    model, train, test = setup_model(make, shape)
    engine = L._Engine(model, torch.device("cpu"))
    assert len(engine.folds) == folded
    assert sum(isinstance(m, nn.modules.batchnorm._BatchNorm)
               for m in engine.eval_net.modules()) == kept
    u = random_direction(model, "gaussian", seed=7)
    ls = np.linspace(-1.5, 1.5, 5)
    got = L.line(model, u, ls, train, test, bn_mode=bn_mode, bn_batch=16)
    ref = L.reference_line(model, u, ls, train, test, bn_mode=bn_mode, bn_batch=16)
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        np.testing.assert_allclose(getattr(got, key), getattr(ref, key), atol=1e-5, rtol=0)
