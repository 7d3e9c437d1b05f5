"""BAR, the Biased Action Recognition photographs (Nam et al. 2020), as a biased unlearning benchmark.

Six actions photographed at their typical places: climbing (rock wall),
diving (underwater), fishing (water surface), pole vaulting (sky), racing
(paved track), throwing (playing field). The authors' release holds
``train/`` (1,941 images) and ``test/`` (654), files named ``<action>_<i>.jpg``,
and ``metadata.json``. It has **no place labels**; what it has is its
construction: the training folder holds the actions at their typical places
(bias-aligned), and the evaluation folder the same actions at atypical ones
(ice-wall climbing, platform diving, ice fishing, off-road racing...: its
metadata's search queries say so), i.e. bias-conflicting. That is how LfF
(Nam et al.) and the papers after it (DFA, Lee et al. 2021, whose 1% and 5%
splits move conflicting images into training; CUPID, Kwon et al. 2026) use it,
and how we define the groups:

* bias-aligned = an image of ``train/``; bias-conflicting = an image of ``test/``;
* per class, a share ``test_share`` (20%) of the aligned images is held out
  for testing, and of the conflicting images exactly
  ``round(n_aligned_train * (1 - aligned) / aligned)`` join training, so that
  ``aligned`` is the class's bias-aligned share in training (the rest test);
* the test set therefore has both groups of every class (worst-group accuracy
  is over (action, aligned or not)).

Images go through the frozen pretrained EfficientNet-Lite0 once (``backbone.py``:
shorter side resized to 224, centre crop, the Lite input scaling), and the
``(320, 7, 7)`` maps are cached in ``<cache>/vision/`` under a digest of the
file names and sizes (float16, safetensors, written atomically; a second process
waits for the first). The classifier trained and unlearned is the top
(``backbone.LiteTop``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from obliviate.core.errors import ConfigError, DataError
from obliviate.core.progress import log, progress
from obliviate.core.store import atomic_write_bytes, cache_home, locked, stable_hash
from obliviate.vision import backbone
from obliviate.vision.data import DATA_ENV, BiasedData, Split

CLASSES = ("climbing", "diving", "fishing", "pole vaulting", "racing", "throwing")
IMAGE_SIZE = 224
FOLDERS = {"train": True, "test": False}  # folder -> bias-aligned


@dataclass
class BarFile:
    path: Path
    label: int
    aligned: bool


def bar_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The BAR folder: ``data_dir`` itself if it holds ``train/`` and ``test/``, else ``data_dir/BAR``
    (``data_dir`` defaults to ``$OBLIVIATE_DATA``).

    Raises:
        DataError: neither holds the two folders.
    """
    root = data_dir or os.environ.get(DATA_ENV)
    if not root:
        raise DataError(f"BAR is not available offline: set {DATA_ENV} (or pass --data-dir) to the folder that "
                        "holds BAR/train and BAR/test")
    for cand in (Path(root), Path(root) / "BAR"):
        if all((cand / f).is_dir() for f in FOLDERS):
            return cand
    raise DataError(f"no BAR data under {root}: expected BAR/train/ and BAR/test/ with <action>_<i>.jpg files")


def bar_files(root: str | os.PathLike) -> list[BarFile]:
    """Every image of ``train/`` (bias-aligned) and ``test/`` (bias-conflicting), in a fixed order.

    Raises:
        DataError: a file's action is not one of :data:`CLASSES`, or a folder holds no image.
    """
    out = []
    for folder, aligned in FOLDERS.items():
        paths = sorted(p for p in (Path(root) / folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not paths:
            raise DataError(f"{Path(root) / folder} holds no .jpg or .png image")
        for p in paths:
            action = p.stem.rsplit("_", 1)[0]
            if action not in CLASSES:
                raise DataError(f"{p}: unknown action {action!r}; BAR's are {', '.join(CLASSES)}")
            out.append(BarFile(p, CLASSES.index(action), aligned))
    return out


def load_image(path: str | os.PathLike, size: int = IMAGE_SIZE) -> torch.Tensor:
    """``(3, size, size)`` in [0, 1]: shorter side resized to ``size`` (bicubic), centre crop.

    Raises:
        DataError: the file is not a readable image.
    """
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
    except (OSError, UnidentifiedImageError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from e
    w, h = im.size
    scale = size / min(w, h)
    im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    im = im.crop((left, top, left + size, top + size))
    return torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0


def _digest(files: list[BarFile]) -> str:
    return stable_hash([(f.path.parent.name, f.path.name, f.path.stat().st_size) for f in files], 16)


@torch.no_grad()
def feature_maps(files: list[BarFile], batch_size: int = 32) -> torch.Tensor:
    """The frozen backbone's ``(N, 320, 7, 7)`` maps of ``files`` (float16), cached by a digest of the files."""
    # deferred: loads safetensors
    from safetensors.torch import load_file, save

    path = cache_home() / "vision" / f"bar-lite0-{IMAGE_SIZE}-{_digest(files)}.safetensors"
    with locked(path, "the BAR feature cache"):
        if path.is_file():
            return load_file(str(path))["maps"]
        net = backbone.pretrained_features()
        parts = []
        with progress(len(files), f"BAR: {len(files)} images through the frozen EfficientNet-Lite0") as advance:
            for i in range(0, len(files), batch_size):
                chunk = files[i: i + batch_size]
                parts.append(net(torch.stack([load_image(f.path) for f in chunk])).half())
                advance(len(chunk))
        maps = torch.cat(parts)
        atomic_write_bytes(path, save({"maps": maps.contiguous()}))
        log(f"BAR feature maps cached: {path}")
        return maps


def bar_data(aligned: float = 0.95, seed: int = 0, test_share: float = 0.2,
             data_dir: str | os.PathLike | None = None) -> BiasedData:
    """The biased BAR benchmark of ``seed``: training images with a bias-aligned share ``aligned`` per class.

    Split fields: ``x`` the backbone's maps (float32), ``y`` the action, ``aligned`` the group; ``colour`` (the
    digits' bias attribute) is the action for an aligned image and -1 (an atypical place, unnamed) otherwise.

    Raises:
        ConfigError: ``aligned`` outside (0, 1], or so low that a class lacks conflicting images for it.
    """
    if not 0 < aligned <= 1:
        raise ConfigError(f"aligned share must be in (0, 1], got {aligned}")
    if not 0 < test_share < 1:
        raise ConfigError(f"test share must be in (0, 1), got {test_share}")
    files = bar_files(bar_root(data_dir))
    maps = feature_maps(files).float()
    y = torch.tensor([f.label for f in files])
    is_aligned = torch.tensor([f.aligned for f in files])
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in range(len(CLASSES)):
        al = (is_aligned & (y == c)).nonzero().flatten()
        co = (~is_aligned & (y == c)).nonzero().flatten()
        al, co = al[torch.randperm(len(al), generator=gen)], co[torch.randperm(len(co), generator=gen)]
        n_test = round(test_share * len(al))
        al_train = al[n_test:]
        n_conf = round(len(al_train) * (1 - aligned) / aligned)
        if len(al_train) == 0 or n_conf >= len(co):
            raise ConfigError(f"BAR class {CLASSES[c]!r}: an aligned share of {aligned} needs {n_conf} conflicting "
                              f"training images and leaves none to test ({len(co)} exist, {len(al_train)} "
                              "aligned training images); use a higher --aligned")
        train += [al_train, co[:n_conf]]
        test += [al[:n_test], co[n_conf:]]
    tr, te = torch.cat(train).sort().values, torch.cat(test).sort().values

    def split(idx: torch.Tensor) -> Split:
        a = is_aligned[idx]
        return Split(maps[idx], y[idx], torch.where(a, y[idx], torch.full_like(y[idx], -1)), a)

    return BiasedData(split(tr), split(te), aligned, "bar")
