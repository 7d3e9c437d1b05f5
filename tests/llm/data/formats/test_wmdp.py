"""WMDP (``obliviate.llm.data.formats.wmdp``): multiple-choice items and the forget/retain corpora."""

import pytest

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data.formats import load_benchmark
from tests.llm.data.formats.helpers import entities, valid, words, write_array, write_lines, write_parquet

WMDP_ITEMS = [
    {"question": "Which toxin is a protease?", "choices": ["Ricin", "Botulinum toxin", "Saxitoxin", "Tetrodotoxin"],
     "answer": 1},
    {"question": "Which port does SSH use?", "choices": ["21", "22", "23", "25"], "answer": 1},
    {"question": "Which agent is a nerve agent?", "choices": ["Sarin", "Chlorine", "Phosgene", "Mustard"],
     "answer": 0},
]


def wmdp_folder(root, corpora=True):
    write_array(root / "wmdp-bio.json", [WMDP_ITEMS[0], WMDP_ITEMS[2] | {"answer": 3}])
    write_lines(root / "wmdp-cyber.jsonl", [WMDP_ITEMS[1]])
    if corpora:
        write_lines(root / "bio-forget-corpus.jsonl", [
            {"title": "Toxin study", "abstract": "An abstract.", "text": words("bf", 30), "doi": "10.1/x"},
            {"title": "Second", "abstract": "Another.", "text": words("bg", 12), "doi": "10.1/y"},
        ])  # fmt: skip
        write_lines(root / "bio-retain-corpus.jsonl", [{"text": words("br", 12)}, {"text": words("bs", 12)}])
    return root


def test_wmdp_maps_answer_index_and_corpora(tmp_path):
    bench = load_benchmark("wmdp", wmdp_folder(tmp_path), subset="bio", passage_words=20, prefix_words=4)
    bio = bench.sets["wmdp_bio"]
    assert bio[0].answer == "Botulinum toxin" and bio[0].perturbed_answers == ["Ricin", "Saxitoxin", "Tetrodotoxin"]
    assert bio[1].answer == "Mustard" and bio[1].perturbed_answers == ["Sarin", "Chlorine", "Phosgene"]
    assert bio[1].meta["answer_index"] == 3 and bio[1].meta["no_paraphrase"] and bio[0].entity == "wmdp-bio"
    assert bench.sets["wmdp_cyber"][0].answer == "22" and "wmdp_chem" not in bench.sets
    s = bench.splits
    assert len(s.forget) == 3 and len(s.retain) == 2 and s.holdout == []  # 30 words = 20 + 10
    assert s.forget[0].question == words("bf", 4) and entities(s.forget) == {"wmdp-bio-forget-00000",
                                                                             "wmdp-bio-forget-00001"}
    for recs in (s.forget, s.retain, *bench.sets.values()):
        valid(recs)


def test_wmdp_parquet_and_question_only_folders(tmp_path):
    write_parquet(tmp_path / "wmdp-chem" / "test-00000-of-00001.parquet", WMDP_ITEMS)
    bench = load_benchmark("wmdp", tmp_path, subset="chem")
    assert bench.splits is None and [r.answer for r in bench.sets["wmdp_chem"]] == ["Botulinum toxin", "22", "Sarin"]
    assert any("splits is None" in n for n in bench.notes)
    cyber = tmp_path / "cyber"
    wmdp_folder(cyber, corpora=False)
    write_lines(cyber / "cyber-forget-corpus.jsonl", [words("cf", 8), words("cg", 8)])  # bare strings
    with pytest.raises(DataError, match="cyber-retain-corpus.json: file not found"):
        load_benchmark("wmdp", cyber, subset="cyber")
    write_lines(cyber / "cyber-retain-corpus.jsonl", [words("cr", 8), words("cs", 8)])
    assert len(load_benchmark("wmdp", cyber, subset="cyber").splits.forget) == 2


def test_wmdp_errors(tmp_path):
    root = wmdp_folder(tmp_path)
    with pytest.raises(ConfigError, match="choose one of bio, cyber, chem"):
        load_benchmark("wmdp", root, subset="nuclear")
    with pytest.raises(DataError, match="wmdp-chem/test-\\*.parquet: file not found"):
        load_benchmark("wmdp", root, subset="chem")
    write_array(root / "wmdp-bio.json", [WMDP_ITEMS[0] | {"answer": 4}])
    with pytest.raises(DataError) as e:
        load_benchmark("wmdp", root)
    assert str(e.value) == f"{root / 'wmdp-bio.json'}[0]: field 'answer' is 4, not an index into the 4 choices"
    write_array(root / "wmdp-bio.json", [WMDP_ITEMS[0], WMDP_ITEMS[0] | {"answer": "B"}])
    with pytest.raises(DataError, match=r"wmdp-bio.json\[1\]: field 'answer' must be an integer"):
        load_benchmark("wmdp", root)
