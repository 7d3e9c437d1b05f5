"""The SAE alignment summary (``obliviate.llm.eval.metrics.sae_alignment``) on a worked example."""

import pytest

from obliviate.llm.eval.metrics.sae_alignment import Alignment


def test_alignment_summary_on_a_worked_example():
    pts = Alignment({"known": {"a": (0.5, 0.0), "b": (0.3, 0.0)}, "unknown": {"c": (0.0, 0.4), "d": (0.0, 0.2)},
                     "forget": {"e": (0.1, 0.2), "f": (0.4, 0.0)}})
    s = pts.summary()
    # knownness: known .4, unknown -.3, forget (-.1 + .4) / 2 = .15 -> alignment (.4 - .15) / .7
    assert s["alignment"] == pytest.approx(0.25 / 0.7)
    # centroids: known (.4, 0), unknown (0, .3); e = (.1, .2) is nearer unknown, f nearer known
    assert s["nearer_unknown"] == 0.5 and s["forget.n"] == 2
