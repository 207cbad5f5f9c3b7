"""Curvature: Hessian-vector products, Lanczos eigenvalues and Hutchinson traces against the
exact Hessian (torch.autograd.functional.hessian) of small nets, BN in eval mode included."""
import copy
import os

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from avalley import models
from avalley.curvature import Hessian, hutchinson_trace, top_eigenvalues
from avalley.directions import flat_params
from avalley.errors import ParameterError


@pytest.fixture(scope="module", autouse=True)
def threads():
    """AVALLEY_THREADS as chapters read it: on a busy machine, two threads doing tiny
    double-backward passes wait for each other ~10x longer than one thread computes."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("AVALLEY_THREADS", 0)) or before)
    yield
    torch.set_num_threads(before)


def mlp_problem():
    """An MLP with 243 parameters and 70 points (batches of 32, 32 and 6)."""
    torch.manual_seed(0)
    model = models.build("mlp", 3, (8,), width=20)
    return model, torch.randn(70, 8), torch.randint(0, 3, (70,))


def bn_problem():
    """A convnet-bn with 438 parameters, its BN running statistics away from 0 and 1."""
    torch.manual_seed(1)
    model = models.build("convnet-bn", 10, (1, 8, 8), widths=(4, 8))
    with torch.no_grad():
        for _ in range(3):                     # train-mode passes set the running statistics
            model(torch.randn(64, 1, 8, 8) * 2 + 0.5)
    return model.eval(), torch.randn(40, 1, 8, 8), torch.randint(0, 10, (40,))


def exact_hessian(model, x, y):
    """The Hessian of the mean cross-entropy in eval mode, in float64, by autograd."""
    net = copy.deepcopy(model).double().eval()
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    buffers = dict(net.named_buffers())

    def loss(w):
        params = {n: t.view(s) for n, t, s in zip(names, w.split([s.numel() for s in shapes]),
                                                   shapes)}
        return F.cross_entropy(functional_call(net, (params, buffers), (x.double(),)), y)
    w = flat_params(net).double()
    return torch.autograd.functional.hessian(loss, w), loss(w)


@pytest.fixture(scope="module", params=["mlp", "convnet-bn"])
def problem(request):
    model, x, y = mlp_problem() if request.param == "mlp" else bn_problem()
    exact, loss = exact_hessian(model, x, y)
    return model, x, y, exact, float(loss)


def test_hvp_is_the_exact_hessian_times_v(problem):
    model, x, y, exact, loss = problem
    H = Hessian(model, x, y, batch_size=32, dtype=torch.float64)
    assert H.dim == len(exact) and H.loss() == pytest.approx(loss, rel=1e-12)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        v = torch.randn(H.dim, generator=gen, dtype=torch.float64)
        assert torch.allclose(H.mv(v), exact @ v, rtol=1e-9, atol=1e-12)


def test_top_eigenvalues_are_the_exact_ones(problem):
    model, x, y, exact, _ = problem
    H = Hessian(model, x, y, batch_size=32, dtype=torch.float64)
    true = torch.linalg.eigvalsh(exact).flip(0)[:3]
    e = top_eigenvalues(H, k=3, steps=60, seed=0)
    assert e.steps == 60 and len(e.ritz) == 60
    assert e.values == pytest.approx(true.tolist(), rel=1e-8, abs=1e-10)
    for lam, r, v in zip(e.values, e.residuals, e.vectors):
        assert r < 1e-6 and abs(float(v.norm()) - 1) < 1e-12
        assert float((exact @ v - lam * v).norm()) == pytest.approx(r, abs=1e-9)
    assert e.ritz[0] >= float(torch.linalg.eigvalsh(exact)[0]) - 1e-9    # never below λ_min


def test_few_lanczos_steps_give_a_lower_bound_and_an_honest_error(problem):
    model, x, y, exact, _ = problem
    H = Hessian(model, x, y, batch_size=32, dtype=torch.float64)
    lam = torch.linalg.eigvalsh(exact)
    e = top_eigenvalues(H, k=2, steps=6, seed=1)
    assert e.values[0] <= float(lam[-1]) + 1e-12                 # Ritz values bound λ_max
    for value, r in zip(e.values, e.residuals):                  # an eigenvalue within r
        assert float((lam - value).abs().min()) <= r + 1e-12


def test_hutchinson_trace_within_its_standard_error(problem):
    model, x, y, exact, _ = problem
    H = Hessian(model, x, y, batch_size=32, dtype=torch.float64)
    t = hutchinson_trace(H, probes=60, seed=0)
    assert len(t.samples) == 60 and t.stderr > 0
    assert abs(t.mean - float(exact.trace())) < 4 * t.stderr
    samples = torch.tensor(t.samples, dtype=torch.float64)
    assert t.stderr == pytest.approx(float(samples.std() / 60 ** 0.5))


def test_model_and_bn_statistics_are_left_alone():
    model, x, y = bn_problem()
    model.train()
    before = {n: b.clone() for n, b in model.state_dict().items()}
    H = Hessian(model, x, y, batch_size=16)
    H.mv(torch.ones(H.dim))
    hutchinson_trace(H, probes=2)
    assert model.training and all(torch.equal(before[n], b)
                                  for n, b in model.state_dict().items())
    assert all(torch.equal(before[n], b) for n, b in H.buffers.items())


def test_hvp_is_linear_symmetric_and_batch_independent():
    model, x, y = bn_problem()
    H = Hessian(model, x, y, batch_size=16)                      # float32, channels-last
    gen = torch.Generator().manual_seed(2)
    u, v = (torch.randn(H.dim, generator=gen) for _ in range(2))
    hu, hv = H.mv(u), H.mv(v)
    scale = float(hu.norm() + hv.norm())
    assert float((H.mv(2 * u - 3 * v) - (2 * hu - 3 * hv)).norm()) < 1e-5 * scale
    assert float(u.double() @ hv - v.double() @ hu) == pytest.approx(0, abs=1e-5 * scale)
    whole = Hessian(model, x, y, batch_size=len(x)).mv(u)
    assert float((whole - hu).norm()) < 1e-5 * float(hu.norm())


def test_seeded_and_deterministic():
    model, x, y = mlp_problem()
    H = Hessian(model, x, y)
    a, b = top_eigenvalues(H, k=2, steps=8, seed=3), top_eigenvalues(H, k=2, steps=8, seed=3)
    assert a.values == b.values and torch.equal(a.vectors, b.vectors)
    assert top_eigenvalues(H, k=2, steps=8, seed=4).values != a.values
    assert hutchinson_trace(H, 3, seed=5).samples == hutchinson_trace(H, 3, seed=5).samples
    d = H.as_direction(a.vectors[0], kind="hessian-eigenvector")
    assert d.names == tuple(n for n, _ in model.named_parameters()) and abs(d.norm - 1) < 1e-6
    assert d.meta == {"kind": "hessian-eigenvector"}


class Matrix:
    """A symmetric matrix as an operator, for Lanczos alone."""

    def __init__(self, a):
        self.a, self.dim, self.device = a, len(a), a.device

    def mv(self, v):
        return self.a @ v


def test_lanczos_stops_at_an_invariant_subspace():
    q, _ = torch.linalg.qr(torch.randn(50, 50, generator=torch.Generator().manual_seed(0),
                                       dtype=torch.float64))
    a = q[:, :3] @ torch.diag(torch.tensor([5.0, -2.0, 1.0], dtype=torch.float64)) @ q[:, :3].T
    e = top_eigenvalues(Matrix(a), k=2, steps=20)       # rank 3: exhausted after 3 steps
    assert e.steps <= 4 and e.values == pytest.approx([5.0, 1.0], abs=1e-10)
    assert max(e.residuals) < 1e-10
    assert hutchinson_trace(Matrix(torch.eye(7, dtype=torch.float64)), 2).stderr == 0


def test_bad_input_refused():
    model, x, y = mlp_problem()
    H = Hessian(model, x, y)
    with pytest.raises(ParameterError, match="k <= steps"):
        top_eigenvalues(H, k=5, steps=3)
    with pytest.raises(ParameterError, match="dim"):
        top_eigenvalues(H, k=1, steps=H.dim + 1)
    with pytest.raises(ParameterError, match="2 probes"):
        hutchinson_trace(H, probes=1)
    with pytest.raises(ParameterError, match="243 entries"):
        H.mv(torch.ones(5))
    with pytest.raises(ParameterError, match="labels"):
        Hessian(model, x, y[:5])
    with pytest.raises(ParameterError, match="batch_size"):
        Hessian(model, x, y, batch_size=0)
    no_stats = torch.nn.Sequential(torch.nn.Linear(8, 4),
                                   torch.nn.BatchNorm1d(4, track_running_stats=False))
    with pytest.raises(ParameterError, match="running statistics"):
        Hessian(no_stats, x, y)
