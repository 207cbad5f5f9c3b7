import pytest
import torch

from avalley import models
from avalley.errors import ParameterError

CIFAR = (3, 32, 32)
# published sizes on CIFAR-10 (He et al. 2016; Huang et al. 2017; Zagoruyko & Komodakis)
PUBLISHED = {"preresnet164": 1.7e6, "densenet-bc-100": 0.8e6, "wrn-28-10-bn": 36.5e6}


@pytest.mark.parametrize("name,expected", PUBLISHED.items())
def test_parameter_counts_match_published(name, expected):
    n = models.count_parameters(models.build(name, 10, CIFAR))
    assert abs(n - expected) / expected < 0.05, n


@pytest.mark.parametrize("name", list(models.MODELS))
def test_every_model_classifies_any_number_of_classes(name):
    shape = CIFAR if name.startswith("vgg") else (3, 8, 8)   # small images keep this fast
    model = models.build(name, 7, shape).eval()
    with torch.no_grad():
        assert model(torch.randn(2, *shape)).shape == (2, 7)


@pytest.mark.parametrize("name", ["mlp", "convnet", "convnet-bn"])
@pytest.mark.parametrize("shape", [(1, 40), (1, 8, 8), (1, 28, 28)])
def test_quick_models_take_any_input_shape(name, shape):
    model = models.build(name, 10, shape)
    assert model(torch.randn(4, *shape)).shape == (4, 10)


def test_wrn_with_and_without_bn():
    with_bn, without = (models.build(n, 10, (1, 8, 8), depth=10, widen=1) for n in
                        ("wrn-28-10-bn", "wrn-28-10"))
    bn = torch.nn.BatchNorm2d
    assert any(isinstance(m, bn) for m in with_bn.modules())
    assert not any(isinstance(m, bn) for m in without.modules())
    x = torch.randn(4, 1, 8, 8)
    assert with_bn(x).shape == without(x).shape == (4, 10)


def test_convnet_width_is_an_argument():
    small = models.build("convnet-bn", 10, (1, 28, 28), widths=(8, 16))
    assert models.count_parameters(small) < models.count_parameters(
        models.build("convnet-bn", 10, (1, 28, 28)))


def test_errors_list_choices():
    with pytest.raises(ParameterError, match="preresnet164"):
        models.build("resnet50", 10, CIFAR)
    with pytest.raises(ParameterError, match="32"):
        models.build("vgg16", 10, (1, 8, 8))
