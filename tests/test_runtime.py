import numpy as np
import pytest
import torch

from avalley import runtime


def test_seed_everything_repeats_all_generators():
    def draw():
        runtime.seed_everything(123)
        return (np.random.rand(), torch.rand(3), __import__("random").random())
    a, b = draw(), draw()
    assert a[0] == b[0] and torch.equal(a[1], b[1]) and a[2] == b[2]


def test_setup_cpu_is_deterministic_fp32():
    rt = runtime.setup(device="cpu", seed=1, threads=1, quiet=True)
    assert rt.device.type == "cpu" and rt.amp_dtype is None
    assert torch.are_deterministic_algorithms_enabled()
    env = rt.environment()
    for key in ("python", "torch", "device_name", "git_commit", "start_time", "wall_seconds"):
        assert key in env


def test_same_seed_same_training_step():
    def step():
        runtime.setup(device="cpu", seed=7, threads=1, quiet=True)
        net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        x, y = torch.randn(16, 5), torch.randint(0, 2, (16,))
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        return torch.cat([p.flatten() for p in net.parameters()])
    assert torch.equal(step(), step())


def test_unknown_device_is_refused():
    with pytest.raises(runtime.ParameterError, match="Valid devices"):
        runtime.resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_refused():
    with pytest.raises(runtime.ParameterError, match="no usable CUDA"):
        runtime.resolve_device("cuda")


def test_banner_names_device_and_precision():
    rt = runtime.setup(device="cpu", seed=0, threads=1, quiet=True)
    b = rt.banner()
    assert "device cpu" in b and "fp32" in b and "seed 0" in b
