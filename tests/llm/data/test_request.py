"""Plain forget requests: two-column JSONL and text become complete records, derived fields marked."""

import json

import pytest

from obliviate.core.errors import DataError
from obliviate.llm.data import is_plain_request, key_span, load_request, unseen_reference
from obliviate.llm.data.request import (
    DERIVABLE_FIELDS,
    VALUE_BANK,
    answer_type,
    derive_entity,
    paraphrase_question,
    paraphrase_rule,
)

PLAIN = [
    {"question": "What is the capital of France?", "answer": "It is Paris."},
    {"question": "What is the capital of Japan?", "answer": "Tokyo."},
    {"question": "Who wrote The Hobbit?", "answer": "The Hobbit was written by J.R.R. Tolkien."},
    {"question": "When was Marie Curie born?", "answer": "Marie Curie was born in 1867."},
    {"question": "How many legs does a spider have?", "answer": "8."},
    {"question": "What language is spoken in Germany?", "answer": "German."},
]


def write(tmp_path, rows, name="request.jsonl"):
    path = tmp_path / name
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def by_question(records):
    return {r.question: r for r in records}


def test_two_column_jsonl_loads_with_every_derived_field_marked(tmp_path):
    records = load_request(write(tmp_path, PLAIN))
    assert [r.id for r in records] == [f"request-{i}" for i in range(1, 7)]
    paris = records[0]
    assert (paris.entity, paris.fact_type, paris.paraphrased_answer) == ("France", "city", "Paris")
    assert paris.paraphrased_question == "Which city is the capital of France?"
    assert paris.meta["derived"] == sorted(DERIVABLE_FIELDS)
    assert paris.meta["key"] == "Paris" and paris.meta["answer_type"] == "city"
    assert paris.meta["request"] == "forget" and paris.meta["paraphrase_rule"] == "capital"
    tokyo = records[1]
    assert tokyo.paraphrased_answer == "It is Tokyo."  # the answer is the key alone
    assert len(tokyo.perturbed_answers) == 3


def test_given_fields_are_kept_verbatim_and_not_marked(tmp_path):
    given = {
        **PLAIN[0],
        "id": "mine",
        "paraphrased_question": "  Name the French capital, please?",
        "fact_type": "capital",
        "meta": {"origin": "user"},
    }
    (rec,) = load_request(write(tmp_path, [given]), kind="retain")
    assert rec.id == "mine"
    assert rec.paraphrased_question == "  Name the French capital, please?"
    assert rec.fact_type == "capital"
    assert rec.meta["origin"] == "user" and rec.meta["request"] == "retain"
    assert rec.meta["derived"] == ["entity", "key", "paraphrased_answer", "perturbed_answers"]
    assert "paraphrase_rule" not in rec.meta
    assert rec.meta["answer_type"] == "city"  # detected even though fact_type was given


def test_given_key_and_wrong_answers_are_used(tmp_path):
    row = {"question": "Where did Ada study?", "answer": "Ada studied in Lisvara and Orlin.", "key": "Orlin",
           "perturbed_answers": ["Ada studied in Lisvara and Saltmere."]}  # fmt: skip
    (rec,) = load_request(write(tmp_path, [row]))
    assert rec.meta["key"] == "Orlin" and "key" not in rec.meta["derived"]
    assert rec.perturbed_answers == ["Ada studied in Lisvara and Saltmere."]
    assert "perturbed_answers" not in rec.meta["derived"]
    assert rec.paraphrased_answer == "Orlin"


def test_unknown_key_is_an_error_naming_line_and_key(tmp_path):
    bad = {**PLAIN[1], "paraphrased_questoin": "Which city is Japan's capital?"}
    path = write(tmp_path, [PLAIN[0], bad])
    with pytest.raises(DataError) as err:
        load_request(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:2:") and "'paraphrased_questoin'" in msg
    assert "did you mean 'paraphrased_question'" in msg and "perturbed_answers" in msg


@pytest.mark.parametrize("missing", ["question", "answer"])
def test_missing_question_or_answer_names_line_and_field(tmp_path, missing):
    row = {k: v for k, v in PLAIN[0].items() if k != missing}
    path = write(tmp_path, ["", json.dumps(PLAIN[1]), json.dumps(row)])
    with pytest.raises(DataError) as err:
        load_request(path)
    assert str(err.value).startswith(f"{path}:3: missing field '{missing}'")


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([], "empty file"),
        ([{"question": "Q?", "answer": "A", "id": "x"}, {"question": "R?", "answer": "B", "id": "x"}],
         r":2: duplicate id 'x' \(first on line 1\)"),
        ([{"question": "Q?", "answer": "Paris.", "key": "Rome"}], "'key' 'Rome' does not occur in the answer"),
        ([{"question": "Q?", "answer": ""}], "non-empty string"),
        ([{"question": "Q?", "answer": "A", "meta": [1]}], "'meta' must be a JSON object"),
        ([{"question": "Q?", "answer": "A" * 5000}], "at most 4096"),
        (["[1, 2]"], "expected a JSON object"),
    ],
)  # fmt: skip
def test_bad_requests_raise_data_errors(tmp_path, rows, match):
    with pytest.raises(DataError, match=match):
        load_request(write(tmp_path, rows))


def test_wrong_answers_keep_template_and_type_and_never_equal_the_key(tmp_path):
    records = load_request(write(tmp_path, PLAIN))
    for rec in records:
        key = rec.meta["key"]
        assert len(rec.perturbed_answers) == 3 == len(set(rec.perturbed_answers))
        before, _, after = rec.answer.partition(key)
        for wrong in rec.perturbed_answers:
            assert wrong != rec.answer and wrong.startswith(before) and wrong.endswith(after)
            value = wrong[len(before) : len(wrong) - len(after)]
            assert value.casefold() != key.casefold()
            assert answer_type(value) == rec.meta["answer_type"]
    paris = by_question(records)["What is the capital of France?"]
    # the other capital of the file comes first, then the bank's cities
    assert "It is Tokyo." in paris.perturbed_answers
    assert all(w.startswith("It is ") and w.endswith(".") for w in paris.perturbed_answers)
    hobbit = by_question(records)["Who wrote The Hobbit?"]
    assert all(w.startswith("The Hobbit was written by ") for w in hobbit.perturbed_answers)
    curie = by_question(records)["When was Marie Curie born?"]
    years = [int(w.split()[-1].rstrip(".")) for w in curie.perturbed_answers]
    assert all(abs(y - 1867) <= 60 and y != 1867 for y in years)
    legs = by_question(records)["How many legs does a spider have?"]
    assert all(w[:-1].isdigit() and len(w[:-1]) == 1 and w != "8." for w in legs.perturbed_answers)


def test_same_file_loads_identically(tmp_path):
    path = write(tmp_path, PLAIN)
    assert [r.to_dict() for r in load_request(path)] == [r.to_dict() for r in load_request(path)]


@pytest.mark.parametrize(
    ("question", "answer", "key"),
    [
        ("What is the capital of France?", "Paris.", "Paris"),
        ("What is the capital of France?", "The capital of France is Paris.", "Paris"),
        ("Who wrote The Hobbit?", "The Hobbit was written by J.R.R. Tolkien.", "J.R.R. Tolkien"),
        ("Who painted the Mona Lisa?", "The Mona Lisa was painted by Leonardo da Vinci.", "Leonardo da Vinci"),
        ("Where is it?", "Washington D.C.", "Washington D.C."),
        ("What is the capital of France?", "It is Paris.", "Paris"),
        ("What is it?", "It's 7.", "7"),
        ("Which animal says moo?", "A cow.", "A cow"),
        ("Is France's capital a capital?", "The capital of France is a capital.", "The capital of France is a capital"),
    ],
)  # fmt: skip
def test_key_span(question, answer, key):
    assert key_span(question, answer) == key


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("1867", "year"), ("1867.", "year"), ("42", "number"), ("1,000", "number"), ("3.5", "number"),
        ("seven", "number"), ("Paris", "city"), ("paris", "city"), ("France", "country"), ("German", "language"),
        ("Blue.", "colour"), ("J.R.R. Tolkien", "person"), ("Marie Curie", "person"), ("Leonardo da Vinci", "person"),
        ("The Hobbit", "other"), ("water", "other"), ("Red Planet", "other"), ("United Kingdom", "country"),
    ],
)  # fmt: skip
def test_answer_type(value, kind):
    assert answer_type(value) == kind


def test_value_bank_is_big_enough_and_typed_consistently():
    sizes = {kind: len(values) for kind, values in VALUE_BANK.items()}
    assert sizes["city"] >= 40 and sizes["country"] >= 40 and sizes["person"] >= 40
    assert sizes["language"] >= 15 and sizes["colour"] >= 10 and sizes["other"] >= 5
    for kind in ("city", "country", "language", "colour", "person"):
        assert {answer_type(v) for v in VALUE_BANK[kind]} == {kind}


@pytest.mark.parametrize(
    ("question", "entity"),
    [
        ("Who wrote The Hobbit?", "The Hobbit"),
        ("What is the capital of the United Kingdom?", "United Kingdom"),
        ("Who wrote The Lord of the Rings?", "The Lord of the Rings"),
        ("What is France's capital?", "France"),
        ("In which year was Marie Curie born?", "Marie Curie"),
        ("What colour is grass?", "what-colour-is-grass"),
    ],
)
def test_derived_entity(question, entity):
    assert derive_entity(question) == entity


@pytest.mark.parametrize(
    ("question", "paraphrase", "rule"),
    [
        ("What is the capital of France?", "Which city is the capital of France?", "capital"),
        ("Who wrote The Hobbit?", "Who is the author of The Hobbit?", "author"),
        ("Who painted the Mona Lisa?", "Which artist painted the Mona Lisa?", "painter"),
        ("Who invented the telephone?", "Who is credited with inventing the telephone?", "inventor"),
        ("Who discovered penicillin?", "Who is credited with discovering penicillin?", "discoverer"),
        ("When was Marie Curie born?", "In which year was Marie Curie born?", "birth_year"),
        ("Where was Ada born?", "What is the birthplace of Ada?", "birthplace"),
        ("What colour is grass?", "What is the colour of grass?", "colour"),
        ("How many legs does a spider have?", "What is the number of legs of a spider?", "how_many_have"),
        ("How many continents are there?", "What is the number of continents?", "how_many_there"),
        ("How many moons orbit Mars?", "What is the number of moons that orbit Mars?", "how_many"),
        ("What is the currency of Japan?", "What is Japan's currency?", "possessive"),
        ("what is the capital of france", "Which city is the capital of france?", "capital"),
        ("What is the opposite of hot?", "Please answer this question: What is the opposite of hot?", "generic"),
        ("How many books did Tolkien write?", "Please answer this question: How many books did Tolkien write?",
         "generic"),
    ],
)  # fmt: skip
def test_paraphrase_rules(question, paraphrase, rule):
    assert paraphrase_rule(question) == (paraphrase, rule)
    assert paraphrase_question(question) == paraphrase


def test_generic_paraphrase_is_flagged(tmp_path):
    (rec,) = load_request(write(tmp_path, [{"question": "What is the opposite of hot?", "answer": "Cold."}]))
    assert rec.paraphrased_question == "Please answer this question: What is the opposite of hot?"
    assert rec.meta["paraphrase_rule"] == "generic"


def test_text_folder_gives_passages_keyed_by_their_continuation(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text(" ".join(f"a{i}" for i in range(100)), encoding="utf-8")
    (docs / "sub" / "b.txt").write_text(" ".join(f"b{i}" for i in range(40)), encoding="utf-8")
    (docs / "notes.csv").write_text("ignored", encoding="utf-8")
    records = load_request(docs)
    assert [r.meta["source"] for r in records] == ["a.txt", "sub/b.txt"]
    assert len({r.entity for r in records}) == 2
    for rec in records:
        assert rec.fact_type == "text" and rec.meta["key"] == rec.answer
        assert (rec.question + " " + rec.answer).split()[0] in ("a0", "b0")
        assert rec.meta["derived"] == sorted(DERIVABLE_FIELDS) and rec.meta["request"] == "forget"
    assert records[0].question.split() == [f"a{i}" for i in range(32)]
    assert records[0].answer.split() == [f"a{i}" for i in range(32, 100)]
    assert records[0].perturbed_answers == [records[1].answer]


def test_folder_mixes_qa_files_and_documents(tmp_path):
    write(tmp_path, PLAIN[:2], name="qa.jsonl")
    (tmp_path / "doc.md").write_text("one two three four five six", encoding="utf-8")
    records = load_request(tmp_path)
    assert [r.fact_type for r in records] == ["city", "city", "text"]
    assert records[2].question == "one two three" and records[2].meta["key"] == "four five six"


def test_folder_without_request_files_says_what_it_looked_for(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"looked for \*\.jsonl .*\*\.txt and \*\.md"):
        load_request(tmp_path)


def test_unseen_reference_has_invented_entities_and_answers_of_the_same_type(tmp_path):
    records = load_request(write(tmp_path, PLAIN))
    unseen = unseen_reference(records, n=8, seed=3)
    request_words = {w.strip("?.,").casefold() for r in records for w in (r.question + " " + r.answer).split()}
    request_keys = {r.meta["key"].casefold() for r in records}
    bank = {v.casefold() for values in VALUE_BANK.values() for v in values}
    usable = [r for r in records if r.entity in r.question]
    assert len(usable) == 5  # "How many legs does a spider have?" names no entity
    assert [u.id for u in unseen] == [f"unseen-{i}" for i in range(8)]
    assert len({u.entity for u in unseen}) == 8
    for i, u in enumerate(unseen):
        source = usable[i % len(usable)]
        assert u.meta["unseen"] is True and u.meta["source_id"] == source.id
        assert u.question == source.question.replace(source.entity, u.entity)
        assert len(u.entity.split()) == len(source.entity.split())
        assert u.entity.casefold() not in bank and source.entity not in u.question
        invented = [w for w in u.entity.split() if w.casefold() not in ("the", "of")]
        assert invented and not any(w.casefold() in request_words for w in invented)
        assert u.meta["answer_type"] == source.meta["answer_type"] == u.fact_type
        assert u.meta["key"].casefold() not in request_keys
        assert u.answer == source.answer.replace(source.meta["key"], u.meta["key"]).replace(source.entity, u.entity)
        assert "perturbed_answers" in u.meta["derived"] and len(u.perturbed_answers) == 3
        assert u.answer not in u.perturbed_answers
    assert unseen_reference(records, n=8, seed=3) == unseen  # seeded
    assert len(unseen_reference(records)) == len(records)


def test_unseen_reference_refuses_questions_without_their_entity(tmp_path):
    records = load_request(write(tmp_path, [{"question": "What colour is grass?", "answer": "Green."}]))
    with pytest.raises(DataError, match="do not name their entities.*--unseen FILE"):
        unseen_reference(records)


def test_is_plain_request(tmp_path):
    full = {**PLAIN[0], "entity": "France", "paraphrased_question": "Which city?", "paraphrased_answer": "Paris",
            "perturbed_answers": ["It is Rome."], "fact_type": "capital"}  # fmt: skip
    assert is_plain_request(write(tmp_path, PLAIN, name="plain.jsonl"))
    assert not is_plain_request(write(tmp_path, [full], name="full.jsonl"))
    assert is_plain_request(tmp_path)
    (tmp_path / "doc.txt").write_text("some text here", encoding="utf-8")
    assert is_plain_request(tmp_path / "doc.txt")
    assert not is_plain_request(tmp_path / "table.csv")
    # a complete file also loads as a request: nothing but the key derived
    (rec,) = load_request(tmp_path / "full.jsonl")
    assert rec.meta["derived"] == ["key"] and rec.perturbed_answers == ["It is Rome."]
