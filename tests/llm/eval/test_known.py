"""Knowledge judged on the model's own answers: the key-span match, refusals, and before/after counts."""

from __future__ import annotations

from obliviate.llm.data.records import QARecord
from obliviate.llm.eval.known import compare, declines, key_of, normal, states
from tests.llm.eval.helpers import FixedAnswers


def _rec(question: str, answer: str, **meta) -> QARecord:
    return QARecord(id=question, entity="x", question=question, answer=answer, paraphrased_question="P " + question,
                    paraphrased_answer=answer, perturbed_answers=["no"], fact_type="t", meta=meta)


def test_normal_folds_accents_case_and_punctuation():
    assert normal("Brontë's  WUTHERING, Heights!") == "brontes wuthering heights"
    assert normal("J.R.R. Tolkien") == "j r r tolkien"


def test_states_needs_the_whole_key_as_whole_words():
    assert states("The capital of France is Paris.", "Paris")
    assert states("It was written by J.R.R. Tolkien in 1937.", "J.R.R. Tolkien")
    # a confabulated initial, a longer word and a different value are not the fact
    assert not states("... by J.R.R.R. Tolkien", "J.R.R. Tolkien")
    assert not states("Parisian cafes are famous.", "Paris")
    assert not states("The capital of Turkey is Istanbul.", "Ankara")
    assert not states("anything", "")
    assert states("There are 206 bones.", "206") and not states("There are 2060 bones.", "206")


def test_declines_spots_refusals_not_answers():
    for text in ("I don't know.", "I'm not sure about that.", "I do not have information on that", "No idea."):
        assert declines(text), text
    for text in ("The capital of France is Paris.", "Knowledge is power."):
        assert not declines(text), text


def test_key_of_prefers_the_given_key():
    assert key_of(_rec("Who wrote Hamlet?", "Hamlet was written by Shakespeare.", key="William Shakespeare")) == \
        "William Shakespeare"
    assert key_of(_rec("What is the capital of France?", "Paris.")) == "Paris"


def test_compare_counts_only_facts_known_before():
    recs = [_rec("q1", "a1"), _rec("q2", "a2"), _rec("q3", "a3")]
    before = FixedAnswers({"q1": "a1", "q2": "a2", "q3": "wrong"})  # knew 2 of 3
    after = FixedAnswers({"q1": "a1", "q2": "I don't know", "q3": "a3"})  # kept 1, forgot 1, q3 newly stated
    out = compare({"chat": after}, {"chat": before}, {"forget": recs})
    c = out["sets"]["forget"]["chat"]
    assert (c["n"], c["known_before"], c["still_known"], c["forgotten"], c["not_known_before"]) == (3, 2, 1, 1, 1)
    assert c["newly_stated"] == 1 and c["idk"] == 1
    assert c["forgotten_share"] == 0.5 and c["kept_share"] == 0.5
    assert out["examples"]["forget"][1]["after"] == "I don't know"


def test_compare_scores_paraphrases_on_the_paraphrased_questions():
    recs = [_rec("q1", "a1")]
    before = FixedAnswers({"q1": "a1", "P q1": "a1"})
    after = FixedAnswers({"q1": "nothing", "P q1": "a1"})  # forgotten in the trained wording only
    out = compare({"chat": after}, {"chat": before}, {"forget": recs}, paraphrase_of={"forget_paraphrase": "forget"})
    assert out["sets"]["forget"]["chat"]["forgotten"] == 1
    assert out["sets"]["forget_paraphrase"]["chat"]["still_known"] == 1


def test_compare_asks_only_the_named_sets_in_the_second_style():
    recs = {"forget": [_rec("q1", "a1")], "general": [_rec("g1", "b1")]}
    answers = FixedAnswers({"q1": "a1", "g1": "b1"})
    out = compare({"chat": answers, "trained": answers}, {"chat": answers, "trained": answers}, recs,
                  every_style=("forget",))
    assert set(out["sets"]["forget"]) == {"chat", "trained"} and set(out["sets"]["general"]) == {"chat"}


def test_frame_of_cuts_after_the_sentence_that_states_the_key():
    from obliviate.llm.eval.known import frame_of

    assert frame_of("The capital of France is Paris. It is big.", "Paris") == "The capital of France is Paris."
    assert frame_of("By J.R.R. Tolkien, in 1937. More.", "J.R.R. Tolkien") == "By J.R.R. Tolkien, in 1937."
    assert frame_of("Rome\nand more", "Rome") == "Rome"
    assert frame_of("The capital is Lyon.", "Paris") is None


def test_frame_splits_puts_each_fact_in_the_models_own_sentence(tmp_path):
    import json

    from obliviate.llm.data.user_files import splits_from_files
    from obliviate.llm.eval.known import frame_splits

    rows = [("France", "Paris"), ("Japan", "Tokyo")]
    forget = tmp_path / "f.jsonl"
    forget.write_text("".join(json.dumps({"question": f"What is the capital of {c}?", "answer": a}) + "\n"
                              for c, a in rows))
    retain = tmp_path / "r.jsonl"
    retain.write_text(json.dumps({"question": "How many days are in a week?", "answer": "7"}) + "\n")
    splits = splits_from_files(forget, retain)
    said = {"What is the capital of France?": "The capital of France is Paris. Lovely city.",
            "What is the capital of Japan?": "I am not sure.",  # not stated: keeps the user's answer
            "How many days are in a week?": "A week has 7 days."}
    out = frame_splits(None, None, splits, scorer=FixedAnswers(said))
    france, japan = out.forget
    assert france.answer == "The capital of France is Paris." and france.meta["given_answer"] == "Paris"
    assert all(p.startswith("The capital of France is ") and "Paris" not in p for p in france.perturbed_answers)
    assert japan.answer == "Tokyo" and "frame" not in japan.meta
    assert out.retain[0].answer == "A week has 7 days."
    ref = next(u for u in out.holdout if u.meta["source_id"] == france.id)
    assert ref.answer == f"The capital of {ref.entity} is {ref.meta['key']}." and ref.meta["frame"]
    assert splits.forget[0].answer == "Paris"  # the splits given are not changed
    plain = type(splits)(**{**splits.__dict__, "request": False})
    assert frame_splits(None, None, plain, scorer=FixedAnswers(said)) is plain
