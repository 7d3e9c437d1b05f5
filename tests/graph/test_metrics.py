"""Graph metrics: distance to Retrain by hand, and the shadow-model membership attack on a toy graph."""

from __future__ import annotations

import math

import pytest

from obliviate.graph import metrics as M
from obliviate.graph.train import View


def _run(method, seed, deleted_auc, utility, membership, dataset="cora"):
    return {"dataset": dataset, "task": "edge", "seed": seed, "method": method, "deleted_auc": deleted_auc,
            "utility": utility, "membership": membership}


def test_distance_to_retrain_by_hand():
    runs = [_run("Retrain", 0, 0.74, 0.91, 0.49), _run("D2DGN", 0, 0.999, 0.912, 0.019),
            _run("GradAscent", 0, 0.90, 0.89, 0.25), _run("Retrain", 1, 0.70, 0.90, 0.40),
            _run("D2DGN", 1, 0.98, 0.90, 0.05), _run("D2DGN", 2, 0.98, 0.90, 0.05)]
    out = {(r["method"], r["seed"]): r for r in M.distance_to_retrain(runs)}
    d2 = out["D2DGN", 0]
    # |0.999 - 0.74| = 0.259, |0.912 - 0.91| = 0.002, |0.019 - 0.49| = 0.471: mean 0.244
    assert d2["gap_deleted_auc"] == pytest.approx(0.259) and d2["gap_utility"] == pytest.approx(0.002)
    assert d2["gap_membership"] == pytest.approx(0.471) and d2["distance"] == pytest.approx(0.244)
    ga = out["GradAscent", 0]  # (0.16 + 0.02 + 0.24) / 3 = 0.14: closer than D2DGN though it forgets less
    assert ga["distance"] == pytest.approx(0.14) and ga["distance"] < d2["distance"]
    assert out["D2DGN", 1]["distance"] == pytest.approx((0.28 + 0.0 + 0.35) / 3)  # seed 1 against seed 1
    assert out["Retrain", 0]["distance"] == 0.0
    assert math.isnan(out["D2DGN", 2]["distance"])  # no Retrain of seed 2: no distance, never a made-up one
    other = M.distance_to_retrain([_run("Retrain", 0, 0.7, 0.9, 0.5), _run("D2DGN", 0, 0.9, 0.9, 0.1, "citeseer")])
    assert math.isnan(other[1]["distance"])  # Retrain of another data set is not the reference


@pytest.mark.trains
def test_shadow_attack_tells_training_edges_from_unseen_ones(graph, trained):
    model, full = trained["edge"], View.full(graph)
    attack = M.ShadowAttack(graph, "edge", "gcn", seed=0, steps=150)
    # the target's training edges against the validation edges (true edges it never trained on): 0.90..0.92 over
    # the originals of seeds 0-3; the control (two halves of the validation edges, no membership to find)
    # 0.44..0.48, and an attack with its labels swapped would fall below 0.5
    assert M.membership_auc(attack, model, full) > 0.75
    control = attack.auc(model, full, graph.val[:, ::2], graph.val[:, 1::2])
    assert abs(control - 0.5) < 0.15
    members = M.membership(attack, model, full, M.Deletion("edge", graph.train[:, :20], graph.train[:, :0],
                                                            graph.train[:, 20:]))
    outsiders = attack.member_prob(model, full, graph.val).mean()
    assert members > outsiders + 0.2


def test_mi_ratio_is_before_over_after():
    assert M.mi_ratio(0.8, 0.2) == pytest.approx(4.0) and M.mi_ratio(0.5, 0.5) == 1.0
