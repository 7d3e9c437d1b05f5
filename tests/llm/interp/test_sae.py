"""The sparse autoencoder (``obliviate.llm.interp.sae``): held-out reconstruction, saving and loading."""

import pytest
import torch

from obliviate.core.errors import DataError
from obliviate.llm.encoding import PromptFormat
from obliviate.llm.interp import hooks
from obliviate.llm.interp.sae import SAE, SAEConfig, train_sae

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_sae_reconstructs_heldout_activations_better_than_the_mean(tiny_target, splits, tmp_path):
    model, tok = tiny_target
    fmt = PromptFormat(tok)
    texts = [fmt.prompt(r.question) + fmt.answer(r.answer) for r in splits.retain + splits.forget]
    acts = torch.unique(hooks.text_activations(model, tok, texts, "resid.0"), dim=0)
    gen = torch.Generator().manual_seed(1)
    order = torch.randperm(len(acts), generator=gen)
    train, held = acts[order[200:]], acts[order[:200]]
    sae = train_sae(train, SAEConfig(expansion=4, k=6, epochs=30), point="resid.0")
    q = sae.quality(held)  # never seen in training
    assert q["fve"] > 0.6, q  # the mean reconstruction has FVE 0
    assert q["l0"] <= 6 and q["dead_fraction"] < 0.5
    mean_err = float((held - train.mean(0)).pow(2).sum())
    assert q["mse"] * len(held) < 0.4 * mean_err
    sae.save(tmp_path / "sae")
    back = SAE.load(tmp_path / "sae")
    assert back.point == "resid.0" and torch.allclose(back(held[:5]), sae(held[:5]))
    assert back.info["quality"]["heldout"]["fve"] == pytest.approx(sae.info["quality"]["heldout"]["fve"])
    with pytest.raises(DataError, match="at least 64 tokens"):
        train_sae(train[:10])
    with pytest.raises(DataError, match="not an SAE folder"):
        SAE.load(tmp_path)
