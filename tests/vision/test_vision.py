"""Vision unlearning under bias on scikit-learn's 8x8 digits (bundled, offline): data, methods, CUPID."""

import gzip

import numpy as np
import pytest
import torch

from obliviate.core.errors import ConfigError, DataError
from obliviate.vision.data import PALETTE, coloured_digits, forget_class, forget_random, load_digits
from obliviate.vision.methods import VISION_METHODS, VisionContext, get_vision_method
from obliviate.vision.metrics import evaluate
from obliviate.vision.models import classifier
from obliviate.vision.train import ce_loss, fit, vision_config


@pytest.fixture(scope="module")
def data():
    return coloured_digits("digits", aligned=0.95, seed=0)


@pytest.fixture(scope="module")
def original(data, train_seed):
    model = classifier("cnn", tuple(data.train.x.shape[1:]), data.num_classes, seed=train_seed)
    return fit(model, ce_loss(data.train), torch.arange(len(data.train)),
               vision_config(6, 3e-3, seed=train_seed))


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


def test_original_learned_the_shortcut(data, original):
    e = evaluate(original, data, forget_class(data, 0))
    assert e["retain_acc"] > 0.9 and e["forget_acc"] > 0.9
    assert e["forget_acc_aligned"] > e["forget_acc_conflicting"]  # colour carries the class


@pytest.mark.parametrize("name", VISION_METHODS.names())
def test_every_method_lowers_forget_accuracy(name, data, original):
    req = forget_class(data, 0)
    ctx = VisionContext(original, data, req, seed=0, train_epochs=6, train_lr=3e-3)
    before = [p.detach().clone() for p in original.parameters()]
    model = get_vision_method(name).unlearn(ctx)
    assert all(torch.equal(a, b) for a, b in zip(before, original.parameters()))  # original untouched
    e0, e1 = evaluate(original, data, req), evaluate(model, data, req)
    # Measured over the originals of OBLIVIATE_TEST_SEED 0-3 under both kernel paths (identical figures):
    # forget accuracy 0.95 -> 0.000..0.107 for every method; retain accuracy >= 0.884 for every method but
    # NegGrad (plain ascent on the forget class, no retain term: 0.613..0.902). A collapsed model scores
    # chance on the nine retain classes (~0.11), a no-op keeps forget accuracy at 0.95.
    assert e1["forget_acc"] < e0["forget_acc"] - 0.5, (name, e0["forget_acc"], e1["forget_acc"])
    assert e1["retain_acc"] > (0.4 if name == "NegGrad" else 0.7), (name, e1["retain_acc"])
    again = get_vision_method(name).unlearn(ctx)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))  # seeded


def test_random_subset_request_runs(data, original):
    req = forget_random(data, 0.05, seed=0)
    ctx = VisionContext(original, data, req, seed=0, train_epochs=6, train_lr=3e-3)
    model = get_vision_method("NegGradPlus").unlearn(ctx)

    def forget_loss(net):
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(net.eval()(data.train.x[req.forget]),
                                                     data.train.y[req.forget]).item()

    # A random 5% of a model that generalises: retraining without them would still classify them well, so
    # forget accuracy is no yardstick (it moved -0.17..+0.01 over the originals of OBLIVIATE_TEST_SEED
    # 0-7). The forget loss is: it rose by 0.070..0.397 (a no-op: exactly 0), with retain accuracy 0.80..0.95.
    assert forget_loss(model) > forget_loss(original) + 0.03
    assert evaluate(model, data, req)["retain_acc"] > 0.7


def test_cupid_partition_and_mask_have_the_configured_sizes(data, original):
    req = forget_class(data, 0)
    cupid = get_vision_method("CUPID", {"causal_share": 0.1, "mask_share": 0.3, "steps": 2})
    cupid.unlearn(VisionContext(original, data, req, seed=0))
    assert len(cupid.causal) == round(0.1 * len(req.forget)) and set(cupid.causal.tolist()) <= set(req.forget.tolist())
    assert len(cupid.sharpness) == len(req.forget)
    top = torch.argsort(cupid.sharpness, descending=True)[: len(cupid.causal)]
    assert set(req.forget[top].tolist()) == set(cupid.causal.tolist())  # the sharpest ones
    total = sum(m.numel() for m in cupid.mask.values())
    kept = sum(int(m.sum()) for m in cupid.mask.values())
    assert abs(kept - round(0.3 * total)) <= 0.01 * total  # ties at the threshold aside
    with pytest.raises(ConfigError, match="causal_share"):
        get_vision_method("CUPID", {"causal_share": 0.0})


def test_mlp_learns_and_unknown_model_is_refused(data):
    mlp = classifier("mlp", tuple(data.train.x.shape[1:]), data.num_classes, seed=0)
    mlp = fit(mlp, ce_loss(data.train), torch.arange(len(data.train)), vision_config(3, 3e-3, seed=0))
    assert evaluate(mlp, data, forget_class(data, 0))["retain_acc"] > 0.9
    with pytest.raises(ConfigError, match="vision model"):
        classifier("resnet", (3, 8, 8), 10)
