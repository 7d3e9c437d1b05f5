"""Image classifiers in plain torch (torchvision does not import beside our torch): two small ones for digits,
and the pretrained EfficientNet-Lite0 top for photographs' cached backbone maps (``backbone.py``)."""

from __future__ import annotations

import torch

from obliviate.core.errors import ConfigError
from obliviate.vision.backbone import FEATURE_CHANNELS, pretrained_top

ARCHS = ("cnn", "mlp", "lite0-top")


def classifier(arch: str, in_shape: tuple[int, int, int], num_classes: int, seed: int = 0) -> torch.nn.Module:
    """``cnn``: two 3x3 conv layers (16, 32 channels) with max-pooling and a linear head;
    ``mlp``: flatten, 128 hidden units, linear head; ``lite0-top``: the pretrained EfficientNet-Lite0 head on
    ``(320, h, w)`` backbone maps with a new linear classifier. Initialised from ``seed``."""
    c, h, w = in_shape
    if arch == "lite0-top":
        if c != FEATURE_CHANNELS:
            raise ConfigError(f"lite0-top reads EfficientNet-Lite0 maps ({FEATURE_CHANNELS} channels), got inputs of "
                              f"shape {in_shape}: use it with --source bar")
        return pretrained_top(num_classes, seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if arch == "cnn":
            return torch.nn.Sequential(
                torch.nn.Conv2d(c, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
                torch.nn.Flatten(), torch.nn.Linear(32 * 4, num_classes))
        if arch == "mlp":
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(c * h * w, 128), torch.nn.ReLU(),
                                       torch.nn.Linear(128, num_classes))
    raise ConfigError(f"unknown vision model {arch!r}; choose one of {', '.join(ARCHS)}")
