"""A biased Coloured-MNIST benchmark (and an 8x8-digits stand-in for tests), with forget requests.

Digits come from the real MNIST test split (10,000 images, IDX files read
here with numpy; found through ``OBLIVIATE_DATA`` = the folder holding
``MNIST/raw/``) or, offline and small, from scikit-learn's bundled 8x8 digits.
Our own seeded split makes a train and a test set.

Bias: class ``c`` owns colour ``c``. In training a share ``aligned`` (default
99.5%; 95%, 98%, 99% are the usual alternatives) of each class's images is
drawn in its own colour, exactly ``round(aligned * n_c)`` of them, and the rest
in a random *other* colour (bias-conflicting); the test set is unbiased
(uniformly random colours). Every sample keeps its group: class and whether
its colour is aligned.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from obliviate.core.errors import ConfigError, DataError

DATA_ENV = "OBLIVIATE_DATA"
SOURCES = ("mnist", "digits")
PALETTE = torch.tensor([  # ten well-separated RGB colours
    [1.0, 0.1, 0.1], [0.1, 1.0, 0.1], [0.1, 0.3, 1.0], [1.0, 1.0, 0.1], [1.0, 0.1, 1.0],
    [0.1, 1.0, 1.0], [1.0, 0.55, 0.0], [0.55, 0.0, 1.0], [0.6, 0.6, 0.6], [0.0, 0.5, 0.35],
])


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_digits(source: str = "mnist", data_dir: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Grey images ``(N, H, W)`` in [0, 1] and labels: MNIST's test split or scikit-learn's 8x8 digits.

    Raises:
        DataError: the MNIST files are missing, naming the setting to use.
    """
    if source == "digits":
        # deferred: loads sklearn
        from sklearn.datasets import load_digits as sk_digits

        d = sk_digits()
        return torch.tensor(d.images / 16.0, dtype=torch.float32), torch.tensor(d.target, dtype=torch.long)
    if source != "mnist":
        raise ConfigError(f"unknown digit source {source!r}; choose one of {', '.join(SOURCES)}")
    root = data_dir or os.environ.get(DATA_ENV)
    raw = Path(root) / "MNIST" / "raw" if root else None
    files = [raw / "t10k-images-idx3-ubyte.gz", raw / "t10k-labels-idx1-ubyte.gz"] if raw else []
    if not files or not all(f.is_file() for f in files):
        raise DataError(f"the MNIST files are not available offline: set {DATA_ENV} (or pass --data-dir) to the "
                        "folder that holds MNIST/raw/t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    images, labels = _idx(files[0]), _idx(files[1])
    return torch.tensor(images / 255.0, dtype=torch.float32), torch.tensor(labels, dtype=torch.long)


@dataclass
class Split:
    """One side of the data: coloured images ``x`` (N, 3, H, W), labels, colour ids and ``aligned`` flags."""

    x: torch.Tensor
    y: torch.Tensor
    colour: torch.Tensor
    aligned: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: torch.Tensor) -> Split:
        return Split(self.x[index], self.y[index], self.colour[index], self.aligned[index])


@dataclass
class BiasedData:
    """A biased training split and an unbiased test split."""

    train: Split
    test: Split
    aligned_share: float
    name: str

    @property
    def num_classes(self) -> int:
        return int(self.train.y.max()) + 1


def paint(grey: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` grey digits drawn in ``PALETTE[colour]``: ``(N, 3, H, W)``."""
    return grey[:, None] * PALETTE[colour][:, :, None, None]


def _biased_colours(y: torch.Tensor, share: float, gen: torch.Generator, n_colours: int) -> torch.Tensor:
    colour = y.clone()
    for c in y.unique():
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        conflicting = idx[round(share * len(idx)):]
        other = torch.randint(0, n_colours - 1, (len(conflicting),), generator=gen)
        colour[conflicting] = other + (other >= c).long()  # any colour but the class's own
    return colour


def coloured_digits(source: str = "mnist", aligned: float = 0.995, test_share: float = 0.2, seed: int = 0,
                    data_dir: str | os.PathLike | None = None) -> BiasedData:
    """The biased benchmark: seeded train/test split, biased training colours, unbiased test colours."""
    if not 0 < aligned <= 1:
        raise ConfigError(f"aligned share must be in (0, 1], got {aligned}")
    grey, y = load_digits(source, data_dir)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=gen)
    n_test = int(test_share * len(y))
    te, tr = order[:n_test], order[n_test:]
    n_colours = len(PALETTE)
    c_tr = _biased_colours(y[tr], aligned, gen, n_colours)
    c_te = torch.randint(0, n_colours, (len(te),), generator=gen)
    train = Split(paint(grey[tr], c_tr), y[tr], c_tr, c_tr == y[tr])
    test = Split(paint(grey[te], c_te), y[te], c_te, c_te == y[te])
    return BiasedData(train, test, aligned, f"coloured-{source}")


@dataclass
class ForgetRequest:
    """Training indices to forget (``forget``) and to keep (``retain``); ``cls`` for a class request."""

    forget: torch.Tensor
    retain: torch.Tensor
    cls: int | None = None


def forget_class(data: BiasedData, cls: int) -> ForgetRequest:
    """Forget every training image of class ``cls``."""
    if not 0 <= cls < data.num_classes:
        raise DataError(f"class {cls} does not exist: the classes are 0..{data.num_classes - 1}")
    mask = data.train.y == cls
    return ForgetRequest(mask.nonzero().flatten(), (~mask).nonzero().flatten(), cls)


def forget_random(data: BiasedData, fraction: float = 0.1, seed: int = 0) -> ForgetRequest:
    """Forget a random share of the training images."""
    if not 0 < fraction < 1:
        raise ConfigError(f"forget fraction must be in (0, 1), got {fraction}")
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))
    k = max(1, round(fraction * len(order)))
    return ForgetRequest(order[:k].sort().values, order[k:].sort().values)
