"""Every network of the book, from one registry: `build(name, num_classes, input_shape)`.

Naming: a `-bn` suffix means batch normalization; the bare name is the same net without it
(PreResNet-164 and DenseNet-BC-100 always have BN, as published). WRN-28-10 without BN
starts its residual branches at zero (the last conv of each block is zero-initialized, as in
Fixup), so that it trains at all.
Input shapes are (C, H, W) for images and (C, L) for 1-D signals (MNIST-1D); the MLP and
the small convnet take both, the paper's CIFAR families need images.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .errors import ParameterError


def mlp(num_classes, input_shape, width=256):
    """Two weight layers: input -> width (ReLU) -> classes."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), width), nn.ReLU(),
                         nn.Linear(width, num_classes))


def convnet(num_classes, input_shape, widths=(32, 64, 128), bn=False):
    """VGG-style: per stage conv3x3 (+BN) + ReLU + max-pool 2, then global average pooling
    and a linear layer. 1-D inputs get the same net with 1-D convolutions."""
    one_d = len(input_shape) == 2
    conv, pool, norm = ((nn.Conv1d, nn.MaxPool1d, nn.BatchNorm1d) if one_d
                        else (nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d))
    layers, c = [], input_shape[0]
    for w in widths:
        layers += [conv(c, w, 3, padding=1, bias=not bn)] + ([norm(w)] if bn else [])
        layers += [nn.ReLU(inplace=True), pool(2)]
        c = w
    pool_all = nn.AdaptiveAvgPool1d(1) if one_d else nn.AdaptiveAvgPool2d(1)
    return nn.Sequential(*layers, pool_all, nn.Flatten(), nn.Linear(c, num_classes))


def _norm(c, bn):
    return nn.BatchNorm2d(c) if bn else nn.Identity()


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck: 1x1, 3x3, 1x1 convs with 4x expansion."""
    expansion = 4

    def __init__(self, c_in, planes, stride=1):
        super().__init__()
        self.bn1, self.bn2, self.bn3 = (nn.BatchNorm2d(c) for c in (c_in, planes, planes))
        self.conv1 = nn.Conv2d(c_in, planes, 1, bias=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.last = self.conv3
        self.shortcut = (nn.Conv2d(c_in, planes * 4, 1, stride, bias=False)
                         if stride != 1 or c_in != planes * 4 else None)

    def forward(self, x):
        out = torch.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(torch.relu(self.bn2(out)))
        return self.conv3(torch.relu(self.bn3(out))) + skip


class _PreActNet(nn.Module):
    """Stem conv, pre-activation blocks, then the final BN-ReLU, global pooling and fc."""

    def forward(self, x):
        out = torch.relu(self.bn(self.blocks(self.conv(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1))


class PreResNet(_PreActNet):
    """CIFAR PreResNet with bottleneck blocks as in the SWA code: 3 stages of width w, 2w,
    4w (w=16, times 4 at each block's output), depth 9n+2 (164: n = 18)."""

    def __init__(self, depth, num_classes, in_channels=3, width=16):
        super().__init__()
        if (depth - 2) % 9:
            raise ParameterError(f"PreResNet depth must be 9n+2, got {depth}")
        n = (depth - 2) // 9
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        layers, c = [], width
        for stage in range(3):
            planes = width * 2 ** stage
            for i in range(n):
                layers.append(PreActBottleneck(c, planes, 2 if stage and not i else 1))
                c = planes * PreActBottleneck.expansion
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, num_classes)
        _init(self, zero_last=False)


class WideBlock(nn.Module):
    """WRN block (pre-activation, as in the SWA code's WideResNet28x10, dropout 0)."""

    def __init__(self, c_in, planes, stride, bn):
        super().__init__()
        self.bn1, self.bn2 = _norm(c_in, bn), _norm(planes, bn)
        self.conv1 = nn.Conv2d(c_in, planes, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=True)
        self.last = self.conv2
        self.shortcut = (nn.Conv2d(c_in, planes, 1, stride, bias=True)
                         if stride != 1 or c_in != planes else nn.Identity())

    def forward(self, x):
        out = self.conv1(torch.relu(self.bn1(x)))
        return self.conv2(torch.relu(self.bn2(out))) + self.shortcut(x)


class WideResNet(_PreActNet):
    def __init__(self, depth, widen, num_classes, in_channels=3, bn=True):
        super().__init__()
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=True)
        layers, c = [], widths[0]
        for stage in range(3):
            for i in range(n):
                layers.append(WideBlock(c, widths[stage + 1], 2 if stage and not i else 1, bn))
                c = widths[stage + 1]
        self.blocks = nn.Sequential(*layers)
        self.bn = _norm(c, bn)
        self.fc = nn.Linear(c, num_classes)
        _init(self, zero_last=not bn)


def _init(model, zero_last):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        if zero_last and hasattr(m, "last"):
            nn.init.zeros_(m.last.weight)


def densenet_bc(num_classes, input_shape, depth=100, growth=12):
    """DenseNet-BC (bottleneck + compression 0.5) from torchvision's blocks, with the CIFAR
    stem: one 3x3 conv of 2*growth channels and no initial pooling."""
    import torchvision  # imported where used: it pulls in torch._dynamo (seconds)
    n = (depth - 4) // 6
    net = torchvision.models.DenseNet(growth_rate=growth, block_config=(n, n, n),
                                      num_init_features=2 * growth, bn_size=4,
                                      num_classes=num_classes)
    net.features.conv0 = nn.Conv2d(input_shape[0], 2 * growth, 3, padding=1, bias=False)
    net.features.pool0 = nn.Identity()
    return net


class VGG(nn.Module):
    """VGG-16/19 for 32x32 inputs as in the SWA code: torchvision's conv stack, then a
    512-512 classifier with dropout."""

    def __init__(self, cfg, num_classes, in_channels=3, bn=False):
        import torchvision
        super().__init__()
        layers = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs[cfg], bn)
        layers[0] = nn.Conv2d(in_channels, 64, 3, padding=1)
        self.features = layers
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(512, 512), nn.ReLU(True),
                                        nn.Dropout(), nn.Linear(512, 512), nn.ReLU(True),
                                        nn.Linear(512, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, math.sqrt(2.0 / (9 * m.out_channels)))
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def _image(name, input_shape, min_size=1):
    if len(input_shape) != 3 or min(input_shape[1:]) < min_size:
        raise ParameterError(f"Model {name!r} needs images of shape (C, H, W) with H, W >= "
                             f"{min_size}; got input shape {tuple(input_shape)}.")
    return input_shape[0]


def _preresnet164(num_classes, input_shape, width=16):
    return PreResNet(164, num_classes, _image("preresnet164", input_shape, 4), width)


def _vgg(cfg, bn):
    def make(num_classes, input_shape):
        return VGG(cfg, num_classes, _image("vgg", input_shape, 32), bn)
    return make


def _wrn(bn):
    def make(num_classes, input_shape, depth=28, widen=10):
        return WideResNet(depth, widen, num_classes, _image("wrn", input_shape, 4), bn)
    return make


def _dense(num_classes, input_shape, depth=100, growth=12):
    _image("densenet-bc-100", input_shape, 4)
    return densenet_bc(num_classes, input_shape, depth, growth)


MODELS = {
    "mlp": mlp,
    "convnet": lambda num_classes, input_shape, widths=(32, 64, 128): convnet(
        num_classes, input_shape, widths, bn=False),
    "convnet-bn": lambda num_classes, input_shape, widths=(32, 64, 128): convnet(
        num_classes, input_shape, widths, bn=True),
    "preresnet164": _preresnet164,
    "densenet-bc-100": _dense,
    "vgg16": _vgg("D", bn=False),
    "vgg16-bn": _vgg("D", bn=True),
    "wrn-28-10": _wrn(bn=False),
    "wrn-28-10-bn": _wrn(bn=True),
}


# How the scales (weights) of the BN layers start: ones is PyTorch's default; uniform
# U(0, 1) and normal N(0, 0.1) are the alternatives of Li et al. 2024 (BN-weight init and
# valley asymmetry). N(0, 0.1): mean 0, standard deviation 0.1.
BN_WEIGHT_INITS = ("ones", "uniform", "normal")


def init_bn_weights(model: nn.Module, how: str = "ones") -> nn.Module:
    """Set the scale (weight) of every BatchNorm layer of `model` as `how` says (see
    BN_WEIGHT_INITS), drawing from the global torch generator; "ones" draws nothing and
    leaves the model as built. Shifts (biases) are not touched."""
    if how not in BN_WEIGHT_INITS:
        raise ParameterError(f"Unknown BN weight initialization {how!r}. Valid: "
                             f"{', '.join(BN_WEIGHT_INITS)}.")
    if how == "ones":
        return model
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None:
                if how == "uniform":
                    nn.init.uniform_(m.weight, 0.0, 1.0)
                else:
                    nn.init.normal_(m.weight, 0.0, 0.1)
    return model


def build(name: str, num_classes: int, input_shape, bn_weight_init: str = "ones",
          **kwargs) -> nn.Module:
    """The model `name` for `num_classes` classes and inputs of `input_shape` (no batch
    dimension); `kwargs` are the builder's options (e.g. `widths`, `width`).
    bn_weight_init: how the BN scales start (BN_WEIGHT_INITS; ones, the default, is the
    builder's own initialization, unchanged)."""
    if name not in MODELS:
        raise ParameterError(f"Unknown model {name!r}. Valid models: {', '.join(MODELS)}.")
    if bn_weight_init not in BN_WEIGHT_INITS:     # before building: refuse without compute
        raise ParameterError(f"Unknown BN weight initialization {bn_weight_init!r}. Valid: "
                             f"{', '.join(BN_WEIGHT_INITS)}.")
    return init_bn_weights(MODELS[name](num_classes, tuple(input_shape), **kwargs),
                           bn_weight_init)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
