"""Vision unlearning metrics under bias.

* ``forget_acc``: accuracy on the forget set (lower is better; Retrain ~0 for a class);
  ``forget_acc_aligned`` / ``forget_acc_conflicting``: the same on its bias-aligned and
  bias-conflicting samples, and ``bias_gap`` = aligned - conflicting (shortcut
  unlearning shows as a gap: the colour was forgotten, not the class);
* ``retain_acc``: accuracy on the retained training samples;
* ``test_acc``: accuracy on the unbiased test set, the forgotten class left out for a
  class request (``forget_test_acc``: on that class's test images);
* ``worst_group_acc``: the lowest test accuracy over (class, colour aligned or not)
  groups of the retained classes;
* ``mia_auc``: loss-based membership inference, ROC AUC of ``-loss`` with forget
  samples as members and test samples of the same classes as non-members
  (0.5 = indistinguishable; Retrain's value is the target).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from obliviate.vision.data import BiasedData, ForgetRequest
from obliviate.vision.train import accuracy, predict


def evaluate(model, data: BiasedData, req: ForgetRequest, retain_cap: int = 2000) -> dict[str, float]:
    """Every figure of the module docstring for ``model``."""
    tr, te = data.train, data.test
    f = tr.subset(req.forget)
    lf = predict(model, f.x)
    out = {"forget_acc": accuracy(lf, f.y),
           "forget_acc_aligned": accuracy(lf[f.aligned], f.y[f.aligned]),
           "forget_acc_conflicting": accuracy(lf[~f.aligned], f.y[~f.aligned])}
    out["bias_gap"] = out["forget_acc_aligned"] - out["forget_acc_conflicting"]
    r = tr.subset(req.retain[torch.randperm(len(req.retain), generator=torch.Generator().manual_seed(0))[:retain_cap]])
    out["retain_acc"] = accuracy(predict(model, r.x), r.y)
    lt = predict(model, te.x)
    keep = torch.ones(len(te), dtype=torch.bool) if req.cls is None else te.y != req.cls
    out["test_acc"] = accuracy(lt[keep], te.y[keep])
    if req.cls is not None:
        out["forget_test_acc"] = accuracy(lt[~keep], te.y[~keep])
    groups = [(c, a) for c in te.y[keep].unique().tolist() for a in (True, False)]
    accs = [accuracy(lt[(te.y == c) & (te.aligned == a)], te.y[(te.y == c) & (te.aligned == a)]) for c, a in groups]
    out["worst_group_acc"] = float(np.nanmin(accs)) if accs else float("nan")
    out["mia_auc"] = mia_auc(model, data, req, lf)
    return out


def mia_auc(model, data: BiasedData, req: ForgetRequest, forget_logits: torch.Tensor | None = None) -> float:
    """ROC AUC of ``-loss``: forget samples (members) against test samples of the same classes."""
    # deferred: loads sklearn
    from sklearn.metrics import roc_auc_score

    f, te = data.train.subset(req.forget), data.test
    classes = f.y.unique()
    nm = torch.isin(te.y, classes)
    lf = predict(model, f.x) if forget_logits is None else forget_logits
    member = -F.cross_entropy(lf, f.y, reduction="none")
    non = -F.cross_entropy(predict(model, te.x[nm]), te.y[nm], reduction="none")
    if not len(non):
        return float("nan")
    scores = torch.cat([member, non]).numpy()
    return float(roc_auc_score(np.r_[np.ones(len(member)), np.zeros(len(non))], scores))
