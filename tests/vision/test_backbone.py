"""The pretrained EfficientNet-Lite0 (``obliviate.vision.backbone``)."""

import math

import torch
import torch.nn.functional as F

from obliviate.vision.backbone import (
    LiteTop,
    SameConv,
    imagenet_classifier,
    pretrained_features,
    pretrained_top,
    weights_file,
)


def test_same_padding_is_tensorflows():
    # TF "same": output ceil(n / stride); the odd pixel of padding goes right/bottom.
    conv = SameConv(1, 1, 3, 2, bias=False)
    torch.nn.init.ones_(conv.weight)
    for n in (7, 8, 224):
        assert conv(torch.ones(1, 1, n, n)).shape[-1] == math.ceil(n / 2)
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    want = F.conv2d(F.pad(x, (0, 1, 0, 1)), conv.weight, stride=2)  # total padding 1: all of it right/bottom
    assert torch.equal(conv(x), want)


def test_weights_load_exactly_and_the_network_runs():
    state = torch.load(weights_file(), map_location="cpu", weights_only=True)
    feats = pretrained_features()  # strict loading: every tensor of the file has its place and shape
    assert all(not p.requires_grad for p in feats.parameters()) and not feats.training
    net = imagenet_classifier()
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k)
    assert 4_600_000 < n_params < 4_700_000  # EfficientNet-Lite0: 4.65 M parameters
    with torch.no_grad():
        p = net(torch.rand(2, 3, 224, 224)).softmax(-1)
    assert p.shape == (2, 1000) and torch.allclose(p.sum(-1), torch.ones(2))


def test_top_starts_from_the_pretrained_head_and_keeps_its_statistics():
    state = torch.load(weights_file(), map_location="cpu", weights_only=True)
    top = pretrained_top(6, seed=0)
    assert torch.equal(top._conv_head.weight, state["_conv_head.weight"])
    assert torch.equal(pretrained_top(6, seed=0)._fc.weight, top._fc.weight)
    assert not torch.equal(pretrained_top(6, seed=1)._fc.weight, top._fc.weight)
    top.train()
    assert top.training and not top._bn1.training  # the batch norm keeps its running statistics
    before = top._bn1.running_mean.clone()
    top(torch.randn(4, 320, 7, 7) * 5 + 3).sum().backward()
    assert torch.equal(top._bn1.running_mean, before) and top._bn1.weight.grad is not None
    assert isinstance(top, LiteTop)
