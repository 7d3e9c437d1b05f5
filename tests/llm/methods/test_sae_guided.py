"""SAE-guided unlearning (``obliviate.llm.methods.sae_guided``) moves the code toward the unknown mean."""

import pytest
import torch

from obliviate import api
from obliviate.core.errors import ConfigError
from obliviate.llm.encoding import PromptFormat
from obliviate.llm.eval.metrics.sae_alignment import alignment

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_sae_guided_moves_the_code_toward_the_unknown_mean(lens, known, fresh_target, tiny_target, splits):
    from obliviate.llm.methods import get_method

    model, tok = fresh_target
    cfg = dict(sae_expansion=4, sae_k=6, sae_epochs=30, top_latents=8, max_density=0.05)
    method = get_method("SAEGuided", cfg)
    before = alignment(lens, model, tok, splits.forget, known, splits.holdout).summary()
    fmt = PromptFormat(tok)
    from obliviate.llm.methods import MethodContext

    method.prepare(MethodContext(model, tok, fmt, splits))
    mu = method.mu["unknown"]

    def dist(m):
        codes = method.codes(m, splits.forget)  # last name token
        return float(torch.cat(list(codes.values())).sub(mu).pow(2).sum(-1).mean())

    d0 = dist(model)
    out = api.unlearn(model, tok, splits, method, api.UnlearnConfig(epochs=4.0, lr=1e-3, batch_size=4,
                                                                    checkpoint_every=0))
    after = alignment(lens, out, tok, splits.forget, known, splits.holdout).summary()
    assert dist(out) < 0.5 * d0
    assert after["alignment"] > before["alignment"] + 0.3
    assert after["forget.knownness"] < before["forget.knownness"]
    with pytest.raises(ConfigError, match="target"):
        get_method("SAEGuided", {"target": "nowhere"})
