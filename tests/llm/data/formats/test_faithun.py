"""FaithUn (``obliviate.llm.data.formats.faithun``): clusters, splits and the faithfulness sets."""

import json

import pytest

from obliviate.core.errors import DataError
from obliviate.llm.data.formats import load_benchmark
from tests.llm.data.formats.helpers import valid, write_array


def fq(question, answer, wrong):
    return {"question": question, "answers": [answer], "false_answer_options": wrong}


def faithun_folder(root):
    data = {
        "Q76": {
            "name": "Barack Obama",
            "hop1_unlearn": [fq("Where was Barack Obama born?", "Honolulu", ["Chicago", "Boston"]),
                             fq("Which party is Barack Obama in?", "Democratic Party", ["Republican Party"])],
            "hop1_test": [[fq("What is the birthplace of Barack Obama?", "Honolulu", ["Chicago", "Boston"]),
                           fq("In which city was Obama born?", "Honolulu", ["Denver"])],
                          fq("Obama belongs to which party?", "Democratic Party", ["Green Party"])],
            "hop2_test": [[fq("Where was the spouse of Michelle Obama born?", "Honolulu", ["Chicago"])], []],
            "same_object": [[fq("Where was Bruno Mars born?", "Honolulu", ["Las Vegas"])], []],
        },
        "Q22686": {
            "hop1_unlearn": [fq("Where was Donald Trump born?", "Queens", ["Brooklyn"]),
                             fq("Which party is Donald Trump in?", "Republican Party", ["Democratic Party"])],
        },
    }
    write_array(root / "dataset" / "FaithUnBench.json", data)
    (root / "dataset" / "splits").mkdir()
    (root / "dataset" / "splits" / "forget_set_split.txt").write_text("0")
    (root / "dataset" / "splits" / "retaining_set_split.txt").write_text("2\n")
    (root / "dataset" / "splits" / "test_set_split.txt").write_text("1\n3")
    return root


def test_faithun_clusters_splits_and_faithfulness_sets(tmp_path):
    bench = load_benchmark("faithun", faithun_folder(tmp_path))  # the repository root: reads dataset/
    s = bench.splits
    assert [r.id for r in s.forget] == ["faithun/000"] and [r.id for r in s.retain] == ["faithun/002"]
    f = s.forget[0]
    assert (f.entity, f.answer, f.perturbed_answers) == ("Barack Obama", "Honolulu", ["Chicago", "Boston"])
    assert f.paraphrased_question == "What is the birthplace of Barack Obama?" and "no_paraphrase" not in f.meta
    assert f.meta["value"] == "Honolulu" and f.meta["wikidata_id"] == "Q76"
    assert s.retain[0].entity == "Q22686"  # no name: the Wikidata id
    assert set(bench.sets) >= {"target", "paraphrase", "multi_hop", "same_answer", "unrelated"}
    assert len(bench.sets["paraphrase"]) == 2 and len(bench.sets["multi_hop"]) == 1
    assert all(r.meta["faith_of"] == "faithun/000" for k in ("target", "paraphrase", "multi_hop", "same_answer")
               for r in bench.sets[k])
    assert bench.sets["same_answer"][0].question == "Where was Bruno Mars born?"
    assert [r.id for r in bench.sets["unrelated"]] == ["faithun/001", "faithun/003"]
    for recs in (s.forget, s.retain, *bench.sets.values()):
        valid(recs)


def test_faithun_errors(tmp_path):
    root = faithun_folder(tmp_path)
    splits = root / "dataset" / "splits"
    (splits / "test_set_split.txt").write_text("1\n9\n")
    with pytest.raises(DataError) as e:
        load_benchmark("faithun", root)
    assert str(e.value) == f"{splits / 'test_set_split.txt'}:2: cluster 9 is out of range: the data has 4 clusters"
    (splits / "retaining_set_split.txt").write_text("0\n")
    (splits / "test_set_split.txt").write_text("1\n")
    with pytest.raises(DataError, match="in both the forget and the retaining split"):
        load_benchmark("faithun", root)
    path = root / "dataset" / "FaithUnBench.json"
    data = json.loads(path.read_text())
    del data["Q22686"]["hop1_unlearn"][1]["false_answer_options"]
    write_array(path, data)
    with pytest.raises(DataError) as e:
        load_benchmark("faithun", root)
    assert str(e.value) == f"{path} entity 'Q22686' hop1_unlearn[1]: missing field 'false_answer_options'"
    data["Q76"]["hop2_test"] = [[]]
    write_array(path, data)
    with pytest.raises(DataError, match="'hop2_test' must be a list aligned with 'hop1_unlearn' \\(2 items\\)"):
        load_benchmark("faithun", root)
