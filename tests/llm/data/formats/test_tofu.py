"""TOFU (``obliviate.llm.data.formats.tofu``): a tiny folder in the published schema, mapped onto QA records."""

import pytest

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data.formats import Benchmark, load_benchmark
from tests.llm.data.formats.helpers import entities, valid, write_array, write_lines, write_parquet


def tofu_qa(author, j, perturbed=True):
    row = {"question": f"What did author {author} write, question {j}?", "answer": f"Author {author} wrote book {j}."}
    if perturbed:
        row |= {"paraphrased_answer": f"Book {j} is by author {author}.",
                "perturbed_answer": [f"Author {author} wrote poem {j}.", f"Author {author} wrote play {j}."]}
    return row


def tofu_folder(root, forget_format="lines"):
    """4 authors x 2 QA: authors 0-2 retain90, author 3 forget10 (qa_per_author=2)."""
    write_lines(root / "retain90.json", [tofu_qa(a, j, perturbed=False) for a in range(3) for j in range(2)])
    forget = [tofu_qa(3, j) for j in range(2)]
    if forget_format == "lines":
        write_lines(root / "forget10_perturbed.json", forget)
    elif forget_format == "array":
        write_array(root / "forget10_perturbed.json", forget)
    else:
        write_parquet(root / "forget10_perturbed" / "train-00000-of-00001.parquet", forget)
    write_lines(root / "retain_perturbed.json", [tofu_qa(0, 0), tofu_qa(0, 1)])
    write_lines(root / "holdout10.json", [tofu_qa(9, j, perturbed=False) for j in range(2)])
    write_lines(root / "world_facts_perturbed.json", [  # lines of the published file
        {"question": "Where would you find the Eiffel Tower?", "answer": "Paris",
         "perturbed_answer": ["Berlin", "London", "Madrid"]},
        {"question": "What is the capital of Australia?", "answer": "Canberra",
         "perturbed_answer": ["Sydney", "Melbourne", "Perth"]},
    ])  # fmt: skip
    write_lines(root / "real_authors_perturbed.json", [
        {"question": "Who wrote 'Pride and Prejudice'?", "answer": "Jane Austen",
         "perturbed_answer": ["Emily Bronte", "Louisa May Alcott", "Mary Shelley"]},
    ])  # fmt: skip
    return root


@pytest.mark.parametrize("forget_format", ["lines", "array", "parquet"])
def test_tofu_maps_authors_perturbations_and_extra_sets(tmp_path, forget_format):
    bench = load_benchmark("tofu", tofu_folder(tmp_path / "TOFU", forget_format), variant="forget10", qa_per_author=2)
    s = bench.splits
    assert isinstance(bench, Benchmark) and bench.name == "tofu" and bench.source == tmp_path / "TOFU"
    assert (len(s.forget), len(s.retain), len(s.holdout), len(s.world_facts)) == (2, 6, 2, 2)
    assert entities(s.forget) == {"tofu-author-003"}
    assert entities(s.retain) == {"tofu-author-000", "tofu-author-001", "tofu-author-002"}
    assert entities(s.holdout) == {"tofu-holdout-author-000"}
    f = s.forget[1]
    assert f.id == "tofu/author-003/01" and f.answer == "Author 3 wrote book 1."
    assert f.paraphrased_answer == "Book 1 is by author 3."
    assert f.perturbed_answers == ["Author 3 wrote poem 1.", "Author 3 wrote play 1."]
    assert f.paraphrased_question == f.question and f.meta["no_paraphrase"] and "no_perturbed" not in f.meta
    joined, borrowed = s.retain[0], s.retain[2]  # author 0 is in retain_perturbed, author 1 is not
    assert joined.perturbed_answers == ["Author 0 wrote poem 0.", "Author 0 wrote play 0."]
    assert "no_perturbed" not in joined.meta and "no_paraphrased_answer" not in joined.meta
    assert borrowed.meta["no_perturbed"] and borrowed.paraphrased_answer == borrowed.answer
    assert borrowed.perturbed_answers == [r.answer for r in s.retain[3:6]]  # the next records' answers
    assert [r.id for r in bench.sets["retain_perturbed"]] == [s.retain[0].id, s.retain[1].id]
    assert bench.sets["retain_perturbed"][0].meta == {"author": 0, "no_paraphrase": True}
    wf = s.world_facts[0]
    assert (wf.answer, wf.perturbed_answers, wf.fact_type) == ("Paris", ["Berlin", "London", "Madrid"], "world_fact")
    assert bench.sets["real_authors"][0].answer == "Jane Austen"
    assert [r.id for r in bench.splits.real_entities] == [r.id for r in bench.sets["real_authors"]]  # in model utility
    assert s.neighbours == []
    assert any("retain_perturbed" in n for n in bench.notes)
    for recs in (s.forget, s.retain, s.holdout, s.world_facts, *bench.sets.values()):
        valid(recs)


def test_tofu_author_positions_agree_across_variants(tmp_path):
    root = tofu_folder(tmp_path)
    write_lines(root / "retain95.json", [tofu_qa(a, j, perturbed=False) for a in range(2) for j in range(2)])
    write_lines(root / "forget05_perturbed.json", [tofu_qa(a, j) for a in (2, 3) for j in range(2)])
    bench5 = load_benchmark("TOFU", root, variant="forget05", qa_per_author=2)
    bench10 = load_benchmark("tofu", root, qa_per_author=2)
    assert entities(bench10.splits.forget) < entities(bench5.splits.forget)
    assert {r.id for r in bench10.splits.forget} < {r.id for r in bench5.splits.forget}
    assert any("holdout05 not found" in n for n in bench5.notes) and bench5.splits.holdout == []


def test_tofu_without_perturbed_files_falls_back_and_says_so(tmp_path):
    root = tmp_path / "tofu"
    write_lines(root / "retain90.json", [tofu_qa(a, j, perturbed=False) for a in range(2) for j in range(2)])
    write_lines(root / "forget10.json", [tofu_qa(2, j, perturbed=False) for j in range(2)])
    bench = load_benchmark("tofu", root, qa_per_author=2)
    assert all(r.meta["no_perturbed"] and r.meta["no_paraphrased_answer"] for r in bench.splits.forget)
    assert bench.splits.forget[0].perturbed_answers == [bench.splits.forget[1].answer]
    assert len(bench.splits.world_facts) > 0  # the shipped facts
    assert any("forget10_perturbed not found" in n for n in bench.notes)
    assert any("shipped world facts" in n for n in bench.notes)


def test_tofu_errors_name_file_line_and_field(tmp_path):
    root = tofu_folder(tmp_path / "TOFU")
    bad = {"question": "Q?", "answer": "A.", "paraphrased_answer": "A!"}
    write_lines(root / "forget10_perturbed.json", [tofu_qa(3, 0), tofu_qa(3, 1), bad])  # line 3 lacks it
    with pytest.raises(DataError) as e:
        load_benchmark("tofu", root, qa_per_author=1)
    assert str(e.value) == f"{root / 'forget10_perturbed.json'}:3: missing field 'perturbed_answer'"
    write_lines(root / "forget10_perturbed.json", [tofu_qa(3, 0) | {"perturbed_answer": "not a list"}])
    with pytest.raises(DataError, match=r"forget10_perturbed.json:1: field 'perturbed_answer' must be a list"):
        load_benchmark("tofu", root, qa_per_author=1)
    (root / "forget10_perturbed.json").write_text('{"question": "Q?"\n')
    with pytest.raises(DataError, match=r"forget10_perturbed.json:1: bad JSON"):
        load_benchmark("tofu", root, qa_per_author=1)
    (root / "retain90.json").unlink()
    with pytest.raises(DataError, match=f"{root / 'retain90.json'}: file not found"):
        load_benchmark("tofu", root)


def test_tofu_options_are_checked(tmp_path):
    root = tofu_folder(tmp_path)
    with pytest.raises(ConfigError, match="forget01, forget05, forget10"):
        load_benchmark("tofu", root, variant="forget20")
    with pytest.raises(ConfigError, match="unknown option.*'subset'.*valid: variant, qa_per_author"):
        load_benchmark("tofu", root, subset="news")
    with pytest.raises(DataError, match="6 records is not a multiple of 20 questions per author"):
        load_benchmark("tofu", root)  # the fixture has 2 QA per author
