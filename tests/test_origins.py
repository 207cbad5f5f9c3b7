"""The origins chapter's library: probes set by the loss (level_search) against analytic
curves and a dense grid, losses along many directions against the landscape engine
(classifier shortcut included), direction specs, sweep statistics, sharpness summaries
against the exact Hessian, the deflated trace, the attribution table, and the BN-weight
initializations of the models."""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from avalley import asymmetry, landscape, models, origins, recipes
from avalley.curvature import deflated_trace, hutchinson_trace, top_eigenvalues
from avalley.directions import between, random_direction, sign_agreement, sign_matched
from avalley.errors import ParameterError


@pytest.fixture(scope="module", autouse=True)
def threads():
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("AVALLEY_THREADS", 0)) or before)
    yield
    torch.set_num_threads(before)


# ---- level_search ------------------------------------------------------------------------


def parabolas(a_minus, a_plus, calls=None):
    """Curves j: a_plus[j]·l² for l > 0 and a_minus[j]·l² for l < 0 (centre 0)."""
    a_minus, a_plus = np.asarray(a_minus, float), np.asarray(a_plus, float)

    def f(idx, ls):
        if calls is not None:
            calls.append(len(idx))
        return np.where(ls > 0, a_plus[idx], a_minus[idx]) * ls ** 2
    return f


def test_level_search_finds_the_crossings_of_asymmetric_parabolas():
    a_minus, a_plus = [1.0, 16.0, 4.0], [4.0, 1.0, 4.0]
    calls = []
    curves = origins.level_search(parabolas(a_minus, a_plus, calls), 3, 0.0, chance=2.0,
                                  fraction=0.5, start=0.05, reach=4.0, grow=2.0, refine=4)
    assert len(calls) >= 2 and max(calls) <= 6       # one batched call per round
    for c, am, ap in zip(curves, a_minus, a_plus):
        assert c.ls[0] < 0 < c.ls[-1] and 0.0 in c.ls and np.all(np.diff(c.ls) > 0)
        w = origins.windows(c, chance=2.0, fraction=0.5)      # level 1: d = 1/sqrt(a)
        assert w["status"] == asymmetry.MEASURED
        # the crossing lies in a bracket of width step / 2**refine (step: the last doubling,
        # at most the crossing itself), and the chord's crossing lies in the same bracket
        for d, a in ((w["d_minus"], am), (w["d_plus"], ap)):
            assert d == pytest.approx(1 / math.sqrt(a), rel=1 / 16)
        assert w["signed_log_ratio"] == pytest.approx(math.log(math.sqrt(am / ap)), abs=0.07)
        assert c.n_evals <= 2 * (7 + 4)


def test_level_search_censors_a_side_that_stays_below_the_level():
    f = parabolas([1.0], [1e-4])
    c = origins.level_search(f, 1, 0.0, chance=2.0, start=0.1, reach=2.0, refine=2)[0]
    assert c.ls[-1] == 2.0
    w = origins.windows(c, 2.0)
    assert w["status"] == asymmetry.LOWER_BOUND and w["flat_side"] == 1
    assert w["signed_log_ratio"] == pytest.approx(math.log(2.0 / 1.0), abs=0.05)


def test_level_search_agrees_with_a_dense_grid():
    """A smooth, skewed valley: the windows of the searched samples and of a fine grid agree
    to the bracket's width."""
    def g(ls):
        return 0.05 + np.log1p(np.exp(3 * ls)) - math.log(2) + 0.3 * ls ** 2 - 1.5 * ls / 2

    curves = origins.level_search(lambda i, ls: g(ls), 1, g(np.zeros(1))[0], chance=2.3,
                                  start=0.02, reach=5.0, refine=5)
    ls = asymmetry.symmetric_grid(5.0, 4000)
    dense = asymmetry.level_windows(ls, g(ls), 2.3)
    w = origins.windows(curves[0], 2.3)
    for k in ("d_minus", "d_plus"):
        assert w[k] == pytest.approx(dense[k], rel=0.01)
    assert w["flat_side"] == dense["flat_side"]


def test_level_search_is_fed_nonfinite_losses_as_above_the_level():
    f = lambda i, ls: np.where(np.abs(ls) > 0.3, np.inf, ls ** 2)  # noqa: E731
    c = origins.level_search(f, 1, 0.0, chance=2.0, start=0.1, reach=2.0, refine=2)[0]
    assert np.all(np.isfinite(c.losses)) and c.losses.max() == 1e30


def test_level_search_refuses_bad_input():
    f = parabolas([1.0], [1.0])
    with pytest.raises(ParameterError, match="start"):
        origins.level_search(f, 1, 0.0, 2.0, start=3.0, reach=1.0)
    with pytest.raises(ParameterError, match="grow"):
        origins.level_search(f, 1, 0.0, 2.0, grow=1.0)
    with pytest.raises(ParameterError, match="fraction"):
        origins.level_search(f, 1, 0.0, 2.0, fraction=1.0)
    with pytest.raises(ValueError, match="losses"):
        origins.level_search(lambda i, ls: np.zeros(1), 2, 0.0, 2.0)


def test_next_start_follows_the_shorter_window():
    w = {"d_minus": 0.4, "d_plus": 0.8, "status": asymmetry.MEASURED}
    assert origins.next_start(w, reach=2.0) == pytest.approx(0.28)
    assert origins.next_start({**w, "d_minus": 1e-9}, reach=2.0) == pytest.approx(2.0 / 256)
    assert origins.next_start({**w, "status": asymmetry.NOT_REACHED}, 2.0, 0.1) == 0.1


# ---- losses along many directions --------------------------------------------------------


def small_net():
    torch.manual_seed(0)
    model = models.build("convnet-bn", 4, (1, 8, 8), widths=(4, 6))
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(32, 1, 8, 8))
    model.eval()
    gen = torch.Generator().manual_seed(1)
    return model, torch.randn(40, 1, 8, 8, generator=gen), torch.randint(0, 4, (40,),
                                                                          generator=gen)


@pytest.mark.parametrize("bn_mode", ["eval", "recompute"])
def test_line_losses_match_the_landscape_engine(bn_mode):
    model, x, y = small_net()
    dirs = [origins.Spec("plain", "all", 0, "gaussian").make(model),
            origins.Spec("matched", "classifier", 1, "laplace", 1.0).make(model),
            origins.Spec("uniform", "bn-weight", 2).make(model)]
    ev = origins.LineLosses(model, dirs, x, y, bn_mode=bn_mode, bn_batch=16)
    assert ev.cls == [False, bn_mode == "eval", False]
    idx, ls = np.array([0, 1, 2, 1, 0]), np.array([0.1, -0.3, 0.2, 0.5, -0.05])
    got = ev(idx, ls)
    for i, l_, v in zip(idx, ls, got):
        ref = landscape.line(model, dirs[i], [l_], (x, y), (x[:1], y[:1]), bn_mode=bn_mode,
                             bn_batch=16).train_loss[0]
        assert v == pytest.approx(ref, rel=1e-5, abs=1e-6)
    centre = landscape.line(model, dirs[0], [0.0], (x, y), (x[:1], y[:1]), bn_mode=bn_mode,
                            bn_batch=16).train_loss[0]
    assert ev.centre() == pytest.approx(centre, rel=1e-6)
    if bn_mode == "eval":        # the centre's own statistics: the model's loss as it is
        assert centre == pytest.approx(landscape.evaluate(model, x, y)[0], rel=1e-5)
    assert ev.n_fast == (2 if bn_mode == "eval" else 0)


def test_moves_only_classifier():
    model, _, _ = small_net()
    assert origins.moves_only_classifier(random_direction(model, "gaussian", "classifier"),
                                         model)
    assert not origins.moves_only_classifier(random_direction(model, "gaussian", "all"), model)
    assert origins.classifier_module(model)[0] == "10"


# ---- directions and statistics -----------------------------------------------------------


def test_specs_make_the_directions_they_name():
    model, _, _ = small_net()
    plain = origins.Spec("plain", "all", 3, "gaussian")
    matched = origins.Spec("matched", "all", 3, "gaussian", 1.0)
    p, m = plain.make(model), matched.make(model)
    assert torch.allclose(p.vec.abs() / p.vec.abs().sum(), m.vec.abs() / m.vec.abs().sum(),
                          atol=1e-7)                   # same magnitudes, other signs
    assert sign_agreement(m, model) == 1.0
    assert torch.equal(m.vec, sign_matched(model, "gaussian", 1.0, "all", 3, "weights").vec)
    u = origins.Spec("uniform", "bn-weight", 0).make(model)
    assert bool((u.vec >= 0).all())
    assert [s.label for s in (plain, matched, origins.Spec("matched", "all", 0, "laplace",
                                                           0.75),
                              origins.Spec("uniform"))] == [
        "Gaussian, plain", "Gaussian, signs replaced", "Laplace, ρ = 0.75", "U(0,1)"]
    with pytest.raises(ParameterError, match="centred"):
        origins.Spec("plain", noise="uniform")
    with pytest.raises(ParameterError, match="rho"):
        origins.Spec("plain", noise="gaussian", rho=0.5)
    with pytest.raises(ParameterError, match="family"):
        origins.Spec("sign")


def test_mirror_is_exact_for_matched_directions():
    """−u of a rho = 1 direction is the rho = 0 direction of the same seed on every entry
    with a nonzero weight (a zero weight has no sign: its entry keeps the noise's), and the
    agreement of −u with the weights is 1 − rho."""
    from avalley.directions import Direction, flat_params
    model, _, _ = small_net()
    signed = flat_params(model) != 0
    assert not bool(signed.all())           # the BN shifts of this net are 0
    for rho in (1.0, 0.75):
        u = sign_matched(model, "gaussian", rho, "all", 5, "weights")
        minus = Direction(-u.vec, u.names, u.shapes)
        assert sign_agreement(minus, model) == pytest.approx(1 - sign_agreement(u, model))
        assert abs(sign_agreement(u, model) - rho) < 1 / 290
    one = sign_matched(model, "gaussian", 1.0, "all", 5, "weights")
    zero = sign_matched(model, "gaussian", 0.0, "all", 5, "weights")
    assert torch.allclose(-one.vec[signed], zero.vec[signed])
    r, s = origins.mirror([1.0, 0.75], [0.4, 0.1])
    assert r.tolist() == [0.0, 0.25] and s.tolist() == [-0.4, -0.1]


def test_positive_share():
    model, _, _ = small_net()
    assert origins.positive_share(model, "bn-weight") == 1.0      # BN scales start at 1
    with torch.no_grad():
        model[1].weight[:2] = -1.0
        model[1].weight[2] = 0.0
    # 4 + 6 scales, 2 negative, 1 zero (not counted)
    assert origins.positive_share(model, "bn-weight") == pytest.approx(7 / 9)
    assert origins.positive_share(model, "bn-bias") is None        # shifts start at 0


def test_sweep_slope_and_unit_means():
    assert origins.sweep_slope([0.5, 0.75, 1.0], [0.0, 0.25, 0.5]) == pytest.approx(1.0)
    assert origins.sweep_slope([0.75, 1.0, 0.5], [0.5, np.nan, 9.0]) == pytest.approx(2.0)
    assert math.isnan(origins.sweep_slope([0.5], [1.0]))
    means, out = origins.unit_means({0: [1.0, 3.0, np.nan], 1: [np.nan], 2: [2.0]})
    assert means == {0: 2.0, 2: 2.0} and list(out) == [1]


# ---- sharpness ---------------------------------------------------------------------------


def mlp_problem():
    torch.manual_seed(0)
    model = models.build("mlp", 3, (8,), width=20)
    return model, torch.randn(70, 8), torch.randint(0, 3, (70,))


def exact(model, x, y):
    from torch.func import functional_call

    from avalley.directions import flat_params
    net = model.double()
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]

    def loss(w):
        params = {n: t.view(s) for n, t, s in zip(names, w.split([s.numel() for s in shapes]),
                                                   shapes)}
        return F.cross_entropy(functional_call(net, params, (x.double(),)), y)
    w = flat_params(net).double()
    g = torch.autograd.functional.jacobian(loss, w)
    return torch.autograd.functional.hessian(loss, w), g


def test_sharpness_and_along_match_the_exact_hessian():
    model, x, y = mlp_problem()
    H, g = exact(model, x, y)
    s = origins.sharpness(model.float(), x, y, k=2, steps=40, probes=4, seed=0, batch_size=32)
    lam = torch.linalg.eigvalsh(H).flip(0)
    assert s.eigenvalues == pytest.approx(lam[:2].tolist(), rel=1e-4)
    assert max(s.residuals) < 1e-3 * s.eigenvalues[0]
    assert s.n_hvp == 40 + 2 + 4 and s.steps == 40
    assert abs(s.trace - float(H.trace())) < max(4 * s.trace_se, 1e-3 * float(H.trace()))
    u = random_direction(model, "gaussian", "all", 3, "weights")
    a = origins.along(model, u, x, y, batch_size=32)
    v = u.vec.double() / u.vec.double().norm()
    assert a["slope"] == pytest.approx(float(g @ v), rel=1e-4, abs=1e-7)
    assert a["curvature"] == pytest.approx(float(v @ H @ v), rel=1e-4)
    assert a["norm"] == pytest.approx(float(u.vec.norm()))


class Matrix:
    def __init__(self, a):
        self.a, self.dim, self.device = a, len(a), a.device

    def mv(self, v):
        return self.a @ v


def spectrum_with_outliers(n=60, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    lam = torch.cat([torch.tensor([100.0, 60.0, 30.0], dtype=torch.float64),
                     torch.rand(n - 3, generator=gen, dtype=torch.float64)])
    return q @ torch.diag(lam) @ q.T


def test_deflated_trace_is_unbiased_and_beats_plain_hutchinson():
    a = spectrum_with_outliers()
    op = Matrix(a)
    eig = top_eigenvalues(op, k=3, steps=8, seed=0)
    plain = [hutchinson_trace(op, probes=3, seed=s).mean for s in range(300)]
    defl = [deflated_trace(op, eig, probes=3, seed=s).mean for s in range(300)]
    true = float(a.trace())
    assert abs(np.mean(defl) - true) < 4 * np.std(defl) / math.sqrt(300)
    assert np.std(defl) < 0.2 * np.std(plain)
    t = deflated_trace(op, eig, probes=5, seed=1)
    samples = torch.tensor(t.samples, dtype=torch.float64)
    assert t.stderr == pytest.approx(float(samples.std() / math.sqrt(5)))


def test_deflating_the_whole_basis_beats_the_top_vectors():
    a = spectrum_with_outliers()
    op = Matrix(a)
    top = top_eigenvalues(op, k=1, steps=6, seed=0)
    whole = top_eigenvalues(op, k=1, steps=6, seed=0, keep_basis=True)
    assert whole.basis.shape == (6, 60) and top.basis is None
    assert torch.allclose(whole.basis @ whole.basis.T, torch.eye(6, dtype=torch.float64),
                          atol=1e-10)
    true = float(a.trace())
    runs = {name: [deflated_trace(op, e, probes=3, seed=s).mean for s in range(300)]
            for name, e in (("top", top), ("whole", whole))}
    for v in runs.values():
        assert abs(np.mean(v) - true) < 4 * np.std(v) / math.sqrt(300)
    assert np.std(runs["whole"]) < np.std(runs["top"])


def test_deflated_trace_is_exact_when_the_ritz_vectors_span_everything():
    a = spectrum_with_outliers(n=12)
    eig = top_eigenvalues(Matrix(a), k=12, steps=12, seed=0)
    t = deflated_trace(Matrix(a), eig, probes=2)
    assert t.mean == pytest.approx(float(a.trace()), rel=1e-9) and t.stderr < 1e-8


def test_deflated_trace_refuses_bad_input():
    a = spectrum_with_outliers(n=12)
    eig = top_eigenvalues(Matrix(a), k=1, steps=3)
    with pytest.raises(ParameterError, match="2 probes"):
        deflated_trace(Matrix(a), eig, probes=1)
    with pytest.raises(ParameterError, match="another operator"):
        deflated_trace(Matrix(spectrum_with_outliers(n=13)), eig)


# ---- attribution -------------------------------------------------------------------------


@pytest.mark.parametrize("after, flat, floor, label", [
    ("inconclusive", "holds", "holds", "position"),
    ("fails", "holds", "holds", "position"),
    ("holds", "holds", "holds", "both"),
    ("holds", "inconclusive", "holds", "both"),
    ("holds", "inconclusive", "fails", "sharpness"),
    ("inconclusive", "inconclusive", "holds", "position, in part"),
    ("inconclusive", "holds", "fails", "position, in part"),
    ("inconclusive", "inconclusive", "fails", "neither"),
])
def test_attribution(after, flat, floor, label):
    a = origins.attribution("holds", after, flat, floor)
    assert a["label"] == label and "flatter than the SGD baseline" in a["text"]
    assert ("go against" in a["text"]) == ("fails" in (flat, floor))
    caveat = origins.attribution("holds", after, flat, floor, pattern="inconclusive")
    assert caveat["label"] == label and caveat["text"].startswith("The SGD-after-SWA iterate's")
    assert "sharper than the SGD baseline" in origins.attribution("fails", after, flat,
                                                                  floor)["text"]
    with pytest.raises(ValueError):
        origins.attribution("yes", after, flat, floor)


# ---- BN-weight initializations -----------------------------------------------------------


def test_bn_weight_init_ones_is_the_builder_unchanged():
    torch.manual_seed(0)
    a = models.build("convnet-bn", 10, (1, 28, 28), widths=(8, 16))
    torch.manual_seed(0)
    b = models.build("convnet-bn", 10, (1, 28, 28), widths=(8, 16), bn_weight_init="ones")
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(),
                                                 b.state_dict().values()))


def test_bn_weight_inits_draw_what_they_say():
    torch.manual_seed(0)
    u = models.build("convnet-bn", 10, (1, 28, 28), widths=(64, 128, 256),
                     bn_weight_init="uniform")
    torch.manual_seed(0)
    n = models.build("convnet-bn", 10, (1, 28, 28), widths=(64, 128, 256),
                     bn_weight_init="normal")
    bn = lambda m: torch.cat([x.weight.detach() for x in m.modules()  # noqa: E731
                              if isinstance(x, torch.nn.BatchNorm2d)])
    wu, wn = bn(u), bn(n)
    assert 0 <= float(wu.min()) and float(wu.max()) < 1 and abs(float(wu.mean()) - 0.5) < 0.05
    assert abs(float(wn.mean())) < 0.02 and abs(float(wn.std()) - 0.1) < 0.01
    assert all(float(x.bias.detach().abs().max()) == 0 for x in n.modules()
               if isinstance(x, torch.nn.BatchNorm2d))         # shifts untouched
    with pytest.raises(ParameterError, match="BN weight initialization"):
        models.build("convnet-bn", 10, (1, 28, 28), bn_weight_init="zeros")


def test_bn_init_recipes_differ_only_in_the_init():
    for base in ("convnet-bn-fmnist", "convnet-bn-digits", "preresnet164-cifar10"):
        ref = recipes.get(base, seed=2).to_dict()
        for how in ("uniform", "normal"):
            r = recipes.get(f"{base}-bninit-{how}", seed=2).to_dict()
            assert r["model_kwargs"] == {**ref["model_kwargs"], "bn_weight_init": how}
            assert {k: v for k, v in r.items() if k != "model_kwargs"} == \
                {k: v for k, v in ref.items() if k != "model_kwargs"}


def trained_small_net():
    """small_net trained to a low loss on labels from a random teacher: a valley."""
    model, x, _ = small_net()
    gen = torch.Generator().manual_seed(2)
    y = (x.flatten(1) @ torch.randn(64, 4, generator=gen)).argmax(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval(), x, y


def test_probe_measures_every_spec_and_learns_starts():
    model, x, y = trained_small_net()
    specs = [origins.Spec("plain", "all", 0, "gaussian"),
             origins.Spec("matched", "all", 0, "gaussian", 1.0),
             origins.Spec("uniform", "bn-weight", 1),
             origins.Spec("matched", "classifier", 0, "laplace", 0.75)]
    recs, info = origins.probe(model, specs, x, y, chance=math.log(4), reach=8.0, refine=3)
    assert [r["spec"] for r in recs] == specs and info["n_fast"] > 0
    assert info["centre"] == pytest.approx(landscape.evaluate(model, x, y)[0], rel=1e-5)
    assert recs[1]["agreement"] == 1.0 and recs[2]["agreement"] == 1.0
    assert abs(recs[3]["agreement"] - 0.75) < 0.05
    assert info["centre"] < 0.2 * math.log(4)
    assert sum(r["windows"]["status"] == asymmetry.MEASURED for r in recs) >= 3
    for r in recs:
        w = r["windows"]
        if w["status"] == asymmetry.MEASURED:
            assert r["signed_log_ratio"] == pytest.approx(math.log(w["d_plus"] / w["d_minus"]))
    far = {s.kind: 8.0 / 1024 for s in specs}
    slow, _ = origins.probe(model, specs, x, y, chance=math.log(4), reach=8.0, refine=3,
                            starts=far)
    starts = {r["spec"].kind: origins.next_start(r["windows"], 8.0) for r in recs}
    again, _ = origins.probe(model, specs, x, y, chance=math.log(4), reach=8.0, refine=3,
                             starts=starts)
    assert sum(r["n_evals"] for r in again) < sum(r["n_evals"] for r in slow)
    for a, b in zip(recs, again):                  # the same crossings, to the brackets
        if a["windows"]["status"] == b["windows"]["status"] == asymmetry.MEASURED:
            assert a["signed_log_ratio"] == pytest.approx(b["signed_log_ratio"], abs=0.1)


def test_windows_are_plain_python_scalars():
    c = origins.level_search(parabolas([1.0], [4.0]), 1, 0.0, chance=2.0, start=0.05,
                             reach=4.0)[0]
    w = origins.windows(c, 2.0)
    assert type(w["status"]) is str and type(w["flat_side"]) is int
    assert type(w["d_plus"]) is float and type(w["censored_plus"]) is bool


def test_level_search_shrinks_from_a_start_beyond_the_crossing():
    """A start far beyond the crossing (the level already reached there) costs a few extra
    rounds, not precision."""
    far = origins.level_search(parabolas([1.0], [16.0]), 1, 0.0, chance=2.0, start=3.0,
                               reach=4.0, refine=4)[0]
    near = origins.level_search(parabolas([1.0], [16.0]), 1, 0.0, chance=2.0, start=0.2,
                                reach=4.0, refine=4)[0]
    for c in (far, near):
        w = origins.windows(c, 2.0)
        assert w["d_minus"] == pytest.approx(1.0, rel=1 / 16)
        assert w["d_plus"] == pytest.approx(0.25, rel=1 / 16)
    ls = far.ls[far.ls > 0]
    assert ls.max() == 3.0 and np.sum(ls < 0.25) >= 1     # it came down from 3 to below 1/4


@pytest.mark.parametrize("bn_mode", ["recompute", "eval"])
def test_line_ends_are_central_differences_on_the_engine_line(bn_mode):
    a, x, y = trained_small_net()
    b, _, _ = small_net()                        # another network of the same shape
    e = origins.line_ends(a, b, x, y, h=0.2, bn_mode=bn_mode, bn_batch=16)
    u_line = landscape.line(a, between(a, b), e["ts"],
                            (x, y), (x[:1], y[:1]), bn_mode=bn_mode, bn_batch=16).train_loss
    assert np.allclose(e["losses"], u_line)
    L = e["losses"]
    assert e["slope_a"] == pytest.approx((L[2] - L[0]) / 0.4)
    assert e["curvature_b"] == pytest.approx((L[5] - 2 * L[4] + L[3]) / 0.04)
    if bn_mode == "recompute":     # t = 0 is model a with statistics re-estimated on x
        ref = landscape.line(a, between(a, b), [0.0],
                             (x, y), (x[:1], y[:1]), bn_mode="recompute",
                             bn_batch=16).train_loss[0]
        assert L[1] == pytest.approx(ref)
    with pytest.raises(ParameterError, match="h must"):
        origins.line_ends(a, b, x, y, h=0.6)


def test_line_ends_of_a_quadratic_bowl():
    """A linear model's loss is smooth; on a fine step the differences approach the exact
    first and second derivatives along the line (autograd as the reference); the loss is
    fp32, so the step cannot be tiny."""
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(5, 3))
    b = torch.nn.Sequential(torch.nn.Linear(5, 3))
    x, y = torch.randn(50, 5), torch.randint(0, 3, (50,))
    e = origins.line_ends(a, b, x, y, h=0.05, bn_mode="eval")
    wa = torch.cat([p.detach().reshape(-1) for p in a.parameters()]).double()
    wb = torch.cat([p.detach().reshape(-1) for p in b.parameters()]).double()

    def f(t):
        w = wa + t * (wb - wa)
        W, c = w[:15].view(3, 5), w[15:]
        return F.cross_entropy(x.double() @ W.T + c, y)
    t0 = torch.zeros((), dtype=torch.float64, requires_grad=True)
    g, = torch.autograd.grad(f(t0), t0, create_graph=True)
    h2, = torch.autograd.grad(g, t0)
    assert e["slope_a"] == pytest.approx(float(g), rel=1e-2)
    assert e["curvature_a"] == pytest.approx(float(h2), rel=1e-2)


def test_group_norm():
    model, _, _ = small_net()
    conv = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert origins.group_norm(model, "conv") == pytest.approx(
        float(torch.cat([w.detach().reshape(-1) for w in conv]).norm()))


def test_log_ratio_gap_of_two_samplings():
    nan = math.nan
    assert origins.log_ratio_gap(0.5, 0.45) == pytest.approx(0.05)
    assert origins.log_ratio_gap(-0.2, 0.2) == pytest.approx(0.4)
    assert origins.log_ratio_gap(nan, nan) == 0.0          # neither found a pair of windows
    assert origins.log_ratio_gap(0.3, nan) == math.inf     # only one did
    assert origins.log_ratio_gap(nan, -0.3) == math.inf
