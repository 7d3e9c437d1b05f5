"""Entity latents (``obliviate.llm.interp.latents``): scores by frequency gap, known and unknown names told
apart on the tiny model, the lens cached."""

import copy

import numpy as np
import pytest
import torch

from obliviate.core.errors import DataError
from obliviate.llm.eval.metrics.sae_alignment import alignment
from obliviate.llm.interp.latents import build_lens, latent_scores
from tests.llm.helpers import TINY_LENS


def test_latent_scores_pick_by_frequency_gap_and_skip_dense_latents():
    zk = torch.tensor([[1.0, 0, 2, 1], [1, 0, 0, 1], [1, 0, 3, 1], [0, 0, 0, 1]])
    zu = torch.tensor([[0.0, 2, 0, 1], [0, 1, 0, 1], [0, 0, 0, 1], [0, 3, 0, 1]])
    density = torch.tensor([0.01, 0.01, 0.01, 0.9])  # latent 3 fires everywhere
    lat = latent_scores(zk, zu, density, top=2, max_density=0.05)
    # freq_known = [.75, 0, .5, 1], freq_unknown = [0, .75, 0, 1] -> s = [.75, -.75, .5, 0]
    assert lat.known == [0, 2] and lat.unknown == [1]
    assert np.allclose(lat.score, [0.75, -0.75, 0.5, 0.0])


@pytest.mark.trains
def test_known_unknown_scores_separate_trained_from_untrained_names(lens, known, tiny_target, splits):
    model, tok = tiny_target
    q = lens.info["sae_quality"]["heldout"]
    assert q["fve"] > 0.6
    assert len(lens.latents.known) >= 3 and len(lens.latents.unknown) >= 3
    res = alignment(lens, model, tok, splits.forget, known, splits.holdout)
    s = res.summary()
    # the forget people took no part in choosing the latents, and still read as known
    assert s["known.knownness"] > s["unknown.knownness"] + 0.05
    assert s["forget.knownness"] > s["unknown.knownness"] + 0.05
    assert s["nearer_unknown"] <= 0.25 and s["alignment"] < 0.5
    trained = [k - u for k, u in res.points["forget"].values()] + [k - u for k, u in res.points["known"].values()]
    untrained = [k - u for k, u in res.points["unknown"].values()]
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score([1] * len(trained) + [0] * len(untrained), trained + untrained)
    assert auc > 0.9, auc


@pytest.mark.trains
def test_lens_is_cached_and_errors_are_clear(lens, tiny_target, splits):
    model, tok = tiny_target
    again = build_lens(model, tok, splits, TINY_LENS)
    assert again.latents.known == lens.latents.known
    no_holdout = copy.copy(splits)
    no_holdout.holdout = []
    with pytest.raises(DataError, match="holdout"):
        build_lens(model, tok, no_holdout, TINY_LENS)
