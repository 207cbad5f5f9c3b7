"""Directions: kinds, normalizations against hand computations, subsets and groups, seeds,
sign-matched directions, pairwise cosines."""
import math

import pytest
import torch
import torch.nn as nn

from avalley import models
from avalley.directions import (
    CENTRED,
    SUBSETS,
    between,
    flat_params,
    orthogonalize,
    pairwise_cosines,
    random_direction,
    sign_agreement,
    sign_matched,
    subset_mask,
)
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
        random_direction(m, subset="head")
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


def convnet_bn():
    torch.manual_seed(0)
    return models.build("convnet-bn", 10, (1, 8, 8), widths=(4, 8))


def trained_like(m):
    """Weights with signs everywhere, as after training (BN shifts start at 0), and two
    weights exactly 0."""
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
        m[0].weight.view(-1)[:2] = 0
    return m


GROUPS = {"all": ["0.weight", "1.weight", "1.bias", "4.weight", "5.weight", "5.bias",
                  "10.weight", "10.bias"],
          "bn": ["1.weight", "1.bias", "5.weight", "5.bias"],
          "non-bn": ["0.weight", "4.weight", "10.weight", "10.bias"],
          "bn-weight": ["1.weight", "5.weight"], "bn-bias": ["1.bias", "5.bias"],
          "conv": ["0.weight", "4.weight"], "classifier": ["10.weight", "10.bias"]}


def test_groups_of_a_convnet_bn():
    m = convnet_bn()
    assert set(GROUPS) == set(SUBSETS)
    for group, names in GROUPS.items():
        assert [n for n, v in subset_mask(m, group).items() if v] == names
    mlp = models.build("mlp", 10, (1, 8, 8), width=4)
    assert [n for n, v in subset_mask(mlp, "classifier").items() if v] == ["3.weight", "3.bias"]
    for group, lacks in [("conv", "convolution"), ("bn", "BatchNorm"), ("bn-weight", "BN"),
                         ("bn-bias", "BN")]:
        with pytest.raises(ParameterError, match=lacks):
            subset_mask(mlp, group)
        with pytest.raises(ParameterError, match=lacks):
            sign_matched(mlp, subset=group)
    with pytest.raises(ParameterError, match="nn.Linear"):
        random_direction(nn.Sequential(nn.Conv2d(1, 2, 3)), subset="classifier")


def test_centred_kinds_are_centred_and_seeded():
    m = nn.Linear(1000, 100)
    u = random_direction(m, "uniform-centred", seed=2, normalize="none").vec
    assert -1 <= float(u.min()) < -0.99 and 0.99 < float(u.max()) < 1
    assert abs(float(u.mean())) < 0.02 and abs(float(u.abs().mean()) - 0.5) < 0.01
    lap = random_direction(m, "laplace", seed=2, normalize="none").vec
    assert abs(float(lap.mean())) < 0.05 and abs(float(lap.var()) - 2) < 0.06   # Laplace(0, 1)
    assert abs(float(lap.abs().mean()) - 1) < 0.015
    assert torch.equal(lap, random_direction(m, "laplace", seed=2, normalize="none").vec)
    assert abs(random_direction(m, "laplace", seed=2).norm - 1) < 1e-6


@pytest.mark.parametrize("group", SUBSETS)
@pytest.mark.parametrize("noise", CENTRED)
def test_sign_matched_agrees_on_exactly_rho(group, noise):
    m = trained_like(convnet_bn())
    mask = subset_mask(m, group)
    inside = torch.cat([torch.full((p.numel(),), mask[n]) for n, p in m.named_parameters()])
    w = flat_params(m)
    n = int((inside & (w != 0)).sum())
    for rho in (0.0, 0.3, 0.5, 0.77, 1.0):
        d = sign_matched(m, noise, rho, group, seed=5)
        k = math.floor(rho * n + 0.5)
        agree = int((torch.sign(d.vec) == torch.sign(w))[inside & (w != 0)].sum())
        assert agree == k == d.meta["n_agree"] and d.meta["n_signed"] == n
        assert d.meta["agreement"] == pytest.approx(k / n)
        assert abs(d.norm - 1) < 1e-6
        assert (d.vec[~inside] == 0).all() and (d.vec[inside] != 0).all()
        assert d.meta == {**d.meta, "kind": "sign-matched", "noise": noise, "rho": rho,
                          "subset": group, "seed": 5, "normalize": "unit"}


def test_sign_matched_is_seeded_nested_and_keeps_magnitudes():
    m = trained_like(convnet_bn())
    w = flat_params(m)
    raw = random_direction(m, "gaussian", "conv", seed=3, normalize="none").vec
    agreeing = None
    for rho in (0.0, 0.25, 0.5, 0.75, 1.0):
        d = sign_matched(m, "gaussian", rho, "conv", seed=3, normalize="none")
        assert torch.equal(d.vec, sign_matched(m, "gaussian", rho, "conv", 3, "none").vec)
        assert torch.equal(d.vec.abs(), raw.abs())        # same |ε| for every rho
        now = (torch.sign(d.vec) == torch.sign(w)) & (w != 0)
        assert agreeing is None or (now >= agreeing).all()   # nested sets as rho grows
        agreeing = now
    full = sign_matched(m, "gaussian", 1.0, "conv", seed=3, normalize="none")
    nonzero = w != 0
    assert torch.equal(full.vec[nonzero], (raw.abs() * torch.sign(w))[nonzero])
    other = sign_matched(m, "gaussian", 0.5, "conv", seed=4)
    assert not torch.equal(other.vec, sign_matched(m, "gaussian", 0.5, "conv", seed=3).vec)


def test_sign_matched_leaves_zero_weights_to_the_noise():
    m = trained_like(convnet_bn())
    raw = random_direction(m, "laplace", "conv", seed=1, normalize="none").vec
    d = sign_matched(m, "laplace", 1.0, "conv", seed=1, normalize="none")
    zero = (flat_params(m) == 0) & (raw != 0)
    assert int(zero.sum()) == 2 == d.meta["n_zero_weights"]
    assert torch.equal(d.vec[zero], raw[zero])
    fresh = convnet_bn()                                  # BN shifts all start at 0
    b = sign_matched(fresh, "gaussian", 1.0, "bn-bias", seed=0)
    assert b.meta["n_signed"] == 0 and b.meta["agreement"] is None and abs(b.norm - 1) < 1e-6
    with pytest.raises(ParameterError, match="all 0"):
        sign_matched(fresh, "gaussian", 1.0, "bn-bias", seed=0, normalize="weights")


def test_sign_matched_normalizations():
    m = trained_like(convnet_bn())
    weights = dict(m.named_parameters())
    d = sign_matched(m, "uniform-centred", 0.8, "non-bn", seed=2, normalize="weights")
    in_group = torch.cat([p.detach().reshape(-1) for n, p in weights.items()
                          if subset_mask(m, "non-bn")[n]])
    assert d.norm == pytest.approx(float(in_group.norm()), rel=1e-5)
    f = sign_matched(m, "uniform-centred", 0.8, "non-bn", seed=2, normalize="filter")
    assert f.meta["n_agree"] == d.meta["n_agree"]
    assert f.meta["agreement"] == pytest.approx(d.meta["agreement"])   # signs kept
    conv = f.as_dict()["4.weight"]
    assert torch.allclose(conv.flatten(1).norm(dim=1),
                          weights["4.weight"].detach().flatten(1).norm(dim=1), rtol=1e-5)


def test_sign_matched_refuses_bad_input():
    m = convnet_bn()
    with pytest.raises(ParameterError, match="centred"):
        sign_matched(m, "uniform")
    with pytest.raises(ParameterError, match="rho"):
        sign_matched(m, rho=1.5)
    with pytest.raises(ParameterError, match="filter"):
        sign_matched(m, normalize="sphere")
    with pytest.raises(ParameterError, match="bn-bias"):
        sign_matched(m, subset="biases")


def test_sign_agreement_of_plain_and_uniform_directions():
    m = trained_like(convnet_bn())
    w = flat_params(m)
    u = random_direction(m, "uniform", seed=0)
    assert sign_agreement(u, m) == pytest.approx(float((w > 0).sum() / (w != 0).sum()))
    g = random_direction(m, "gaussian", seed=0)
    assert 0.4 < sign_agreement(g, m) < 0.6
    bn_w = random_direction(m, "uniform", subset="bn-weight", seed=0)
    assert sign_agreement(bn_w, m, "bn-weight") == 1.0       # BN scales near 1: all positive
    with pytest.raises(ParameterError, match="another model"):
        sign_agreement(u, net())


def test_pairwise_cosines_match_a_direct_computation():
    gen = torch.Generator().manual_seed(0)
    vs = [torch.randn(1000, generator=gen) + 0.5 for _ in range(6)]
    V = torch.stack(vs).double()
    direct = (V / V.norm(dim=1, keepdim=True)) @ (V / V.norm(dim=1, keepdim=True)).T
    for max_bytes in (8 * 6 * 7, 2 ** 28):                # 7 columns at a time, or all at once
        c = pairwise_cosines(vs, max_bytes=max_bytes)
        assert torch.allclose(c.matrix, direct, atol=1e-12)
    i, j = torch.triu_indices(6, 6, 1)
    assert torch.equal(c.upper, c.matrix[i, j]) and len(c.upper) == 15
    s = c.summary()
    assert s["n_pairs"] == 15 and s["mean"] == pytest.approx(float(direct[i, j].mean()))
    assert s["min"] == pytest.approx(float(direct[i, j].min()))
    assert s["max"] == pytest.approx(float(direct[i, j].max()))
    assert pairwise_cosines(torch.eye(4)).summary()["participation_ratio"] == pytest.approx(4)
    assert pairwise_cosines([vs[0], 2 * vs[0]]).summary()["participation_ratio"] == \
        pytest.approx(1)


def test_pairwise_cosines_of_uniform_directions_are_large():
    m = nn.Linear(300, 100)
    dirs = [random_direction(m, "uniform", seed=s) for s in range(5)]
    s = pairwise_cosines(dirs).summary()
    assert 0.7 < s["min"] and s["max"] < 0.8                  # E[u]² / E[u²] = 3/4
    gauss = pairwise_cosines([random_direction(m, "gaussian", seed=s) for s in range(5)])
    assert gauss.summary()["max"] < 0.05


def test_pairwise_cosines_refuse_bad_input():
    with pytest.raises(ParameterError, match="at least 2"):
        pairwise_cosines([torch.ones(3)])
    with pytest.raises(ParameterError, match="lengths"):
        pairwise_cosines([torch.ones(3), torch.ones(4)])
    with pytest.raises(ParameterError, match="is 0"):
        pairwise_cosines([torch.ones(3), torch.zeros(3)])
