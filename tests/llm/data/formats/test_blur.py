"""BLUR (``obliviate.llm.data.formats.blur``): queries, relearning tiers, and splits when answers are given."""

import pytest

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data.formats import NO_ANSWER, load_benchmark
from tests.llm.data.formats.helpers import entities, valid, words, write_lines


def blur_folder(root, answers=False):
    forget = [{"text": "What house was Harry Potter sorted into?"}, {"text": "Who is Hermione's cat?"}]
    retain = [{"text": "Who wrote The Hobbit?"}, {"text": "What is the capital of Peru?"}]
    if answers:
        forget = [r | {"answer": a} for r, a in zip(forget, ["Gryffindor", "Crookshanks"])]
        retain = [r | {"answer": a} for r, a in zip(retain, ["Tolkien", "Lima"])]
    write_lines(root / "whp_forget.json", forget)
    write_lines(root / "whp_retain.json", retain)
    write_lines(root / "whp_paired_forget_retain.json",
                [{"text": "Who is Hermione's cat, and who wrote The Hobbit?"}])
    write_lines(root / "whp_D_hi.json", [{"text": words("hi", 10)}, {"text": words("hj", 10)}])
    write_lines(root / "D_lo_for_all.json", [{"text": words("lo", 10)}, {"text": words("lp", 10)}])
    return root


def test_blur_queries_relearn_tiers_and_no_answers(tmp_path):
    bench = load_benchmark("blur", blur_folder(tmp_path), subset="whp", prefix_words=3)
    assert bench.splits is None
    fq = bench.sets["forget_queries"]
    assert [r.question for r in fq] == ["What house was Harry Potter sorted into?", "Who is Hermione's cat?"]
    assert fq[0].answer == NO_ANSWER and fq[0].meta["no_answer"] and fq[0].entity == "blur-whp-forget"
    assert len(bench.sets["retain_queries"]) == 2 and len(bench.sets["combined"]) == 1
    hi = bench.sets["relearn_high"]
    assert hi[0].question == words("hi", 3) and hi[0].perturbed_answers == [hi[1].answer]
    assert "relearn_medium" not in bench.sets and len(bench.sets["relearn_low"]) == 2
    assert any("whp_D_mid not found" in n for n in bench.notes)
    for recs in bench.sets.values():
        valid(recs)


def test_blur_with_answers_builds_splits_and_checks_files(tmp_path):
    bench = load_benchmark("blur", blur_folder(tmp_path / "a", answers=True), subset="whp")
    assert [r.answer for r in bench.splits.forget] == ["Gryffindor", "Crookshanks"]
    assert bench.splits.forget[0].perturbed_answers == ["Crookshanks"]
    assert entities(bench.splits.retain) == {"blur-whp-retain"}
    root = blur_folder(tmp_path / "b")
    with pytest.raises(DataError, match=f"{root / 'tofu_paired_forget_retain.json'}: file not found"):
        load_benchmark("blur", root, subset="tofu")
    with pytest.raises(ConfigError, match="choose one of rwku, whp, tofu, wmdp"):
        load_benchmark("blur", root, subset="muse")
    write_lines(root / "whp_retain.json", [{"text": "Fine?"}, {"prompt": "no text"}])
    with pytest.raises(DataError) as e:
        load_benchmark("blur", root, subset="whp")
    assert str(e.value) == f"{root / 'whp_retain.json'}:2: missing field 'text'"
