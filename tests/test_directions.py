"""Directions: kinds, normalizations against hand computations, subsets, seeds."""
import pytest
import torch
import torch.nn as nn

from avalley.directions import between, orthogonalize, random_direction, subset_mask
from avalley.errors import ParameterError


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(12, 2))


def test_uniform_is_positive_unit_and_seeded():
    m = net()
    u = random_direction(m, "uniform", seed=7)
    assert abs(u.norm - 1) < 1e-6 and (u.vec > 0).all()
    assert torch.equal(u.vec, random_direction(m, "uniform", seed=7).vec)
    assert not torch.equal(u.vec, random_direction(m, "uniform", seed=8).vec)
    assert u.meta == {**u.meta, "kind": "uniform", "seed": 7, "normalize": "unit"}


def test_gaussian_none_is_the_raw_draw():
    m = net()
    raw = torch.cat([torch.randn(p.shape, generator=g).reshape(-1) for g in
                     [torch.Generator().manual_seed(3)] for p in m.parameters()])
    assert torch.equal(random_direction(m, "gaussian", seed=3, normalize="none").vec, raw)


def test_filter_and_layer_norms_match_the_weights():
    m = net()
    f = random_direction(m, "filter", seed=1).as_dict()
    lay = random_direction(m, "layer", seed=1).as_dict()
    for name, p in m.named_parameters():
        w = p.detach()
        assert torch.allclose(lay[name].norm(), w.norm(), rtol=1e-5)
        if w.dim() > 1:   # one norm per output filter
            assert torch.allclose(f[name].flatten(1).norm(dim=1), w.flatten(1).norm(dim=1),
                                  rtol=1e-5)
        else:
            assert torch.allclose(f[name].norm(), w.norm(), rtol=1e-5)
    assert abs(random_direction(m, "filter", seed=1, normalize="unit").norm - 1) < 1e-6


def test_subsets_and_no_buffers():
    m = net()
    mask = subset_mask(m, "bn")
    assert [n for n, v in mask.items() if v] == ["1.weight", "1.bias"]
    bn = random_direction(m, "gaussian", subset="bn").as_dict()
    rest = random_direction(m, "gaussian", subset="non-bn").as_dict()
    assert set(bn) == {n for n, _ in m.named_parameters()}          # no running stats
    for n in bn:
        assert (bn[n].abs().sum() > 0) == mask[n] and (rest[n].abs().sum() > 0) != mask[n]
    assert abs(torch.cat([t.reshape(-1) for t in bn.values()]).norm() - 1) < 1e-6


def test_between_goes_from_a_to_b():
    a, b = net(), net()
    with torch.no_grad():
        for p in b.parameters():
            p.add_(0.5)
    d = between(a, b)
    assert torch.allclose(d.vec, torch.full_like(d.vec, 0.5)) and d.meta["normalize"] == "none"


def test_bad_choices_refused():
    m = net()
    with pytest.raises(ParameterError, match="uniform"):
        random_direction(m, "sphere")
    with pytest.raises(ParameterError, match="non-bn"):
        random_direction(m, subset="conv")
    with pytest.raises(ParameterError):
        random_direction(m, "filter", normalize="none")


def test_orthogonalize_gives_an_orthonormal_pair():
    m = net()
    u = random_direction(m, "uniform", seed=0)
    v = orthogonalize(random_direction(m, "gaussian", seed=1, normalize="none"), u)
    assert abs(float(v.vec @ u.vec)) < 1e-6 and abs(v.norm - 1) < 1e-6
    assert v.meta["kind"] == "gaussian" and v.meta["orthogonal_to"]["kind"] == "uniform"
    with pytest.raises(ParameterError, match="parallel"):
        orthogonalize(u, u)
