"""Vision data (``obliviate.vision.data``): bias per class, MNIST's idx files, missing data, requests."""

import gzip

import numpy as np
import pytest
import torch

from obliviate.core.errors import ConfigError, DataError
from obliviate.vision.data import PALETTE, coloured_digits, forget_class, forget_random, load_digits


@pytest.mark.parametrize("share", [0.95, 0.98, 0.99, 0.995])
def test_bias_ratio_is_what_was_asked_per_class(share):
    d = coloured_digits("digits", aligned=share, seed=1)
    for c in range(10):
        in_class = d.train.y == c
        n = int(in_class.sum())
        assert int(d.train.aligned[in_class].sum()) == round(share * n)  # exactly, per class
    assert torch.equal(d.train.aligned, d.train.colour == d.train.y)
    assert (d.train.colour[~d.train.aligned] != d.train.y[~d.train.aligned]).all()
    assert d.test.aligned.float().mean() < 0.2  # the test set is unbiased (a colour in ten matches)
    rgb = d.train.x[5].amax(dim=(1, 2))  # a sample is its grey digit painted in its colour
    want = PALETTE[d.train.colour[5]]
    assert torch.allclose(rgb / rgb.max(), want / want.max(), atol=1e-5)


def test_mnist_idx_files_and_missing_data(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(int(v).to_bytes(4, "big") for v in images.shape)
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images.tobytes()))
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 3])))
    x, y = load_digits("mnist", tmp_path)
    assert x.shape == (2, 3, 4) and torch.allclose(x * 255, torch.tensor(images, dtype=torch.float32))
    assert y.tolist() == [7, 3]
    monkeypatch.delenv("OBLIVIATE_DATA", raising=False)
    with pytest.raises(DataError, match="OBLIVIATE_DATA"):
        load_digits("mnist")
    with pytest.raises(ConfigError, match="digit source"):
        load_digits("svhn")


def test_requests(data):
    r = forget_class(data, 3)
    assert (data.train.y[r.forget] == 3).all() and not (data.train.y[r.retain] == 3).any()
    assert len(r.forget) + len(r.retain) == len(data.train)
    s = forget_random(data, 0.1, seed=0)
    assert len(s.forget) == round(0.1 * len(data.train)) and not set(s.forget.tolist()) & set(s.retain.tolist())
    with pytest.raises(DataError, match="does not exist"):
        forget_class(data, 12)
