"""NPO (``obliviate.llm.methods.npo``): the loss against its formula at the reference model."""

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.trains  # every test here trains a model or uses one a fixture trained


def test_npo_loss_matches_formula(tiny_target, splits):
    from obliviate.llm.encoding import PromptFormat, answer_logprob, collate_records
    from obliviate.llm.methods import MethodContext, get_method

    model, tok = tiny_target
    npo = get_method("npo", {"alpha": 0.0, "beta": 0.5})
    fmt = PromptFormat(tok)
    npo.prepare(MethodContext(model, tok, fmt, splits))
    batch = collate_records(fmt, splits.forget[:4])
    with torch.no_grad():
        loss = npo.losses(model, {"forget": batch})["forget"]
        logp, _ = answer_logprob(model, batch)
    # at the reference model pi == pi_ref, so each term is (2/beta) log 2
    assert float(loss) == pytest.approx(2 / 0.5 * np.log(2), rel=1e-4)
    assert torch.allclose(logp, torch.tensor([npo.ref_logp[i] for i in batch["ids"]], dtype=logp.dtype), atol=1e-4)
