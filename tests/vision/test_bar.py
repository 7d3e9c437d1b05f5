"""BAR as a biased benchmark (``obliviate.vision.bar``), on a few image files written in the test."""

import numpy as np
import pytest
import torch
from PIL import Image

from obliviate.core.errors import ConfigError, DataError
from obliviate.vision import bar
from obliviate.vision.bar import CLASSES, bar_data, bar_files, bar_root, feature_maps, load_image


def _write(path, w=40, h=30, colour=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), colour, dtype=np.uint8)).save(path)


@pytest.fixture
def bar_dir(tmp_path):
    """12 aligned (train/) and 10 conflicting (test/) images for climbing and diving; 1 of the other actions each."""
    root = tmp_path / "BAR"
    for c in ("climbing", "diving"):
        for i in range(12):
            _write(root / "train" / f"{c}_{i}.jpg")
        for i in range(10):
            _write(root / "test" / f"{c}_{i}.png")
    for c in CLASSES[2:]:
        _write(root / "train" / f"{c}_0.jpg")
        for i in range(3):
            _write(root / "test" / f"{c}_{i}.jpg")
    return root


def test_files_carry_action_and_group(bar_dir):
    files = bar_files(bar_dir)
    assert len(files) == 2 * 22 + 4 * 4
    climbing = [f for f in files if f.label == 0]
    assert sum(f.aligned for f in climbing) == 12 and sum(not f.aligned for f in climbing) == 10
    assert all(f.aligned == (f.path.parent.name == "train") for f in files)
    assert {f.label for f in files if f.path.name.startswith("pole vaulting")} == {CLASSES.index("pole vaulting")}
    assert bar_root(bar_dir.parent) == bar_dir and bar_root(bar_dir) == bar_dir  # parent or the folder itself


def test_bad_folders_are_refused(tmp_path, bar_dir):
    with pytest.raises(DataError, match="no BAR data"):
        bar_root(tmp_path / "nowhere")
    _write(bar_dir / "train" / "skiing_0.jpg")
    with pytest.raises(DataError, match="unknown action 'skiing'"):
        bar_files(bar_dir)
    (bar_dir / "broken_0.jpg").write_bytes(b"not an image")
    with pytest.raises(DataError, match="not a readable image"):
        load_image(bar_dir / "broken_0.jpg")


def test_image_is_resized_and_centre_cropped(tmp_path):
    # 300x100: a red middle third between blue sides. The shorter side becomes 224 (width 672); the centre crop
    # keeps only the middle third's 224 columns: all red.
    img = np.zeros((100, 300, 3), dtype=np.uint8)
    img[:, :100] = img[:, 200:] = (0, 0, 255)
    img[:, 100:200] = (255, 0, 0)
    Image.fromarray(img).save(tmp_path / "x.png")
    x = load_image(tmp_path / "x.png")
    assert x.shape == (3, 224, 224) and 0 <= x.min() and x.max() <= 1
    assert x[0].mean() > 0.95 and x[2].mean() < 0.05


def test_split_has_the_asked_bias_share(bar_dir, monkeypatch):
    n = len(bar_files(bar_dir))
    monkeypatch.setattr(bar, "feature_maps", lambda files: torch.arange(n, dtype=torch.float16)[:, None, None, None])
    d = bar_data(aligned=0.8, seed=0, test_share=0.25, data_dir=bar_dir)
    ids = lambda s: set(s.x.flatten().long().tolist())  # noqa: E731  (each image's map is its index)
    assert not ids(d.train) & ids(d.test) and len(ids(d.train) | ids(d.test)) == n  # a partition
    for c in (0, 1):  # 12 aligned: 3 test, 9 train; 9 * 0.2 / 0.8 = 2.25 -> 2 conflicting in training
        tr, te = d.train.y == c, d.test.y == c
        assert int((tr & d.train.aligned).sum()) == 9 and int((tr & ~d.train.aligned).sum()) == 2
        assert int((te & d.test.aligned).sum()) == 3 and int((te & ~d.test.aligned).sum()) == 8
    assert torch.equal(d.train.colour[~d.train.aligned], torch.full_like(d.train.y[~d.train.aligned], -1))
    other = bar_data(aligned=0.8, seed=1, test_share=0.25, data_dir=bar_dir)
    assert ids(other.train) != ids(d.train)  # the seed draws the split
    assert ids(bar_data(aligned=0.8, seed=0, test_share=0.25, data_dir=bar_dir).train) == ids(d.train)
    assert int((~d.test.aligned & (d.test.y == 0)).sum()) == 8
    edge = bar_data(aligned=0.5, seed=0, test_share=0.25, data_dir=bar_dir)  # 9 of climbing's 10: 1 left to test
    assert int((~edge.test.aligned & (edge.test.y == 0)).sum()) == 1
    with pytest.raises(ConfigError, match="needs 11 conflicting"):  # 9 * 0.55 / 0.45 = 11 of 10
        bar_data(aligned=0.45, seed=0, test_share=0.25, data_dir=bar_dir)
    with pytest.raises(ConfigError, match="aligned share"):
        bar_data(aligned=0.0, data_dir=bar_dir)


def test_feature_maps_are_the_backbones_and_cached(tmp_path, monkeypatch):
    root = tmp_path / "BAR"
    for i, c in enumerate(((250, 250, 250), (10, 120, 10))):
        _write(root / "train" / f"climbing_{i}.jpg", colour=c)
        _write(root / "test" / f"diving_{i}.jpg", colour=c)
    files = bar_files(root)
    maps = feature_maps(files)
    assert maps.shape == (4, 320, 7, 7) and maps.dtype == torch.float16 and torch.isfinite(maps).all()
    assert not torch.equal(maps[0], maps[1])  # a white and a green picture differ

    def no_backbone():
        raise AssertionError("the cache was not used")

    monkeypatch.setattr("obliviate.vision.backbone.pretrained_features", no_backbone)
    assert torch.equal(feature_maps(files), maps)
