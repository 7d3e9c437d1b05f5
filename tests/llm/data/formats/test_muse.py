"""MUSE (``obliviate.llm.data.formats.muse``): corpora, VerbMem, KnowMem and PrivLeak sets, from the GitHub
folder or the hub's parquet files."""

import pytest

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data.formats import NO_ANSWER, load_benchmark
from tests.llm.data.formats.helpers import entities, valid, words, write_array, write_parquet


def muse_folder(root, hub=False):
    """MUSE-News as in the benchmark's GitHub data folder (or, ``hub``, the hub's parquet files)."""
    (root / "raw").mkdir(parents=True)
    (root / "raw" / "forget.txt").write_text(words("f", 50))
    (root / "raw" / "retain1.txt").write_text(words("r", 30))
    (root / "raw" / "holdout.txt").write_text(words("h", 25))
    verbmem = [{"prompt": "The BBC reported", "gt": "that the minister resigned."},
               {"prompt": "Rain fell on", "gt": "the final day of the match."}]
    forget_qa = [{"question": "Who resigned?", "answer": "The minister"},
                 {"question": "When did it rain?", "answer": "On the final day"}]
    retain_qa = [{"question": "Who directed the film?", "answer": "James Mangold"},
                 {"question": "Which podcast?", "answer": "Stick to Football"}]
    if hub:
        write_parquet(root / "verbmem" / "forget-00000-of-00001.parquet", verbmem)
        write_parquet(root / "knowmem" / "forget_qa-00000-of-00001.parquet", forget_qa)
        write_parquet(root / "knowmem" / "retain_qa-00000-of-00001.parquet", retain_qa)
        write_parquet(root / "knowmem" / "forget_qa_icl-00000-of-00001.parquet", retain_qa[:1])
    else:
        write_array(root / "verbmem" / "forget.json", verbmem)
        write_array(root / "knowmem" / "forget_qa.json", forget_qa)
        write_array(root / "knowmem" / "retain_qa.json", retain_qa)
    write_array(root / "privleak" / "forget.json", [words("pf", 12), words("pg", 12)])
    write_array(root / "privleak" / "retain.json", [{"text": words("pr", 12)}, {"text": words("ps", 12)}])
    write_array(root / "privleak" / "holdout.json", [{"text": words("ph", 40)}, {"text": words("pi", 12)}])
    return root


@pytest.mark.parametrize("hub", [False, True])
def test_muse_maps_corpora_verbmem_knowmem_privleak(tmp_path, hub):
    bench = load_benchmark("muse", muse_folder(tmp_path / "MUSE-News", hub), passage_words=20, prefix_words=5)
    s = bench.splits
    assert bench.options["subset"] == "news"  # from the folder name
    assert len(s.forget) == 3 and len(s.retain) == 2 and len(s.holdout) == 1  # 50 = 20+20+10; tails <= 5 merge
    assert s.holdout[0].perturbed_answers == [NO_ANSWER]  # one passage: no other continuation to borrow
    first = s.forget[0]
    assert first.question == words("f", 5) and first.answer == " ".join(f"f{i}" for i in range(5, 20))
    assert first.perturbed_answers == [s.forget[1].answer, s.forget[2].answer] and first.meta["no_perturbed"]
    assert entities(s.forget) == {"muse-news-forget-00000"} and not entities(s.forget) & entities(s.retain)
    assert s.retain[-1].answer.endswith("r29") and len(s.retain[-1].answer.split()) == 5  # 30 = 20 + 10
    vm = bench.sets["verbmem_forget"]
    assert (vm[0].question, vm[0].answer) == ("The BBC reported", "that the minister resigned.")
    assert vm[0].perturbed_answers == ["the final day of the match."]
    assert [r.answer for r in bench.sets["knowmem_retain"]] == ["James Mangold", "Stick to Football"]
    assert len(bench.sets["knowmem_forget"]) == 2  # not the ICL examples
    ph = bench.sets["privleak_holdout"]
    assert len(ph) == 2 and len((ph[0].question + " " + ph[0].answer).split()) == 20  # truncated, not chunked
    assert bench.sets["privleak_forget"][0].question == words("pf", 5)
    for recs in (s.forget, s.retain, s.holdout, *bench.sets.values()):
        valid(recs)


def test_muse_errors(tmp_path):
    root = muse_folder(tmp_path / "muse")
    with pytest.raises(ConfigError, match="pass subset='news' or subset='books'"):
        load_benchmark("muse", root)
    with pytest.raises(ConfigError, match="choose one of news, books"):
        load_benchmark("muse", root, subset="bbc")
    with pytest.raises(ConfigError, match="prefix_words"):
        load_benchmark("muse", root, subset="books", passage_words=10, prefix_words=10)
    write_array(root / "verbmem" / "forget.json", [{"prompt": "a b", "gt": "c"}, {"prompt": "d e"}])
    with pytest.raises(DataError) as e:
        load_benchmark("muse", root, subset="news", passage_words=20, prefix_words=5)
    assert str(e.value) == f"{root / 'verbmem' / 'forget.json'}[1]: missing field 'gt'"
    (root / "raw" / "retain1.txt").unlink()
    with pytest.raises(DataError, match=f"{root / 'raw' / 'retain1'}-\\*.parquet: file not found .*retain1.txt"):
        load_benchmark("muse", root, subset="news", passage_words=20, prefix_words=5)
