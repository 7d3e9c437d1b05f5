"""Issue 21 items 4, 5 and 7: every bad input to every command (LLM, graph, vision, SMARL) gets exit code 2,
one ``error:`` line naming the problem, and nothing written or changed on disk.

The table lives in ``tests/bad_inputs_cases.py`` (``benchmarks/bad_inputs.py`` counts the same cases).
Nothing here trains a model: every case is refused while its arguments and files are checked.
Cross-cutting (every command of the CLI), so at the top level of tests/ (tests/test_layout.py lists it).
"""

from __future__ import annotations

import json

import pytest

from tests.bad_inputs_cases import CASES, NOBODY, make_inputs, run_case


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("bad-inputs") / "inputs")


# Cases with owner="safety" (finetune --out <finished run>, unlearn/demo --resume <finished run or a folder
# holding only config.yaml>) test the run-folder protection of issue 21 item 3, built in another change.
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_with_one_line_and_nothing_written(case, inputs, tmp_path, obliviate_home):
    out = run_case(case, inputs, tmp_path / "case", obliviate_home, timeout=60)
    assert out.kind == "clear", f"{out.kind}: {out.problems}\n{out.traceback[-4000:]}"


def test_the_table_covers_every_command():
    from tests.bad_inputs_cases import CASES

    heads = {" ".join(c.args.split()[:2]) if c.args.split()[0] in ("graph", "vision", "smarl") else c.args.split()[0]
             for c in CASES}
    for command in ("demo", "world", "finetune", "unlearn", "eval", "audit", "lens", "bench", "sweep", "methods",
                    "report", "graph unlearn", "graph bench", "vision unlearn", "vision bench", "smarl train",
                    "smarl eval", "smarl simulate", "smarl reference"):
        assert command in heads, command
    assert len(CASES) >= 150


def _u2028_file(inputs, tmp_path):
    rec = json.loads((inputs / "forget.jsonl").read_text(encoding="utf-8").split("\n")[0])
    rec["answer"] = rec["answer"] + "\u2028(a line separator inside the string)"
    rec["question"] = rec["question"] + "\u2029"
    path = tmp_path / "u2028.jsonl"
    path.write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
    assert "\u2028" in path.read_text(encoding="utf-8")  # raw, not escaped: still valid JSON
    return path


def test_a_jsonl_string_holding_a_raw_line_separator_is_accepted(inputs, tmp_path):
    """U+2028/U+2029 inside a JSON string are valid JSON; only "\\n" ends a JSONL line."""
    from obliviate.llm.data import load_jsonl

    path = _u2028_file(inputs, tmp_path)
    (rec,) = load_jsonl(path)
    assert rec.answer.endswith("\u2028(a line separator inside the string)") and rec.question.endswith("\u2029")


def test_the_cli_reads_that_file_and_stops_only_at_the_model(inputs, tmp_path):
    from tests.bad_inputs_cases import Case

    path = _u2028_file(inputs, tmp_path)
    case = Case("u2028", f"unlearn --model {NOBODY} --forget {path} --retain {{I}}/retain.jsonl "
                         "--runs-dir {C}/runs", r"")
    out = run_case(case, inputs, tmp_path / "case", tmp_path / "home", timeout=60)
    assert out.exception is None, out.traceback
    # the file passed every check: the only complaint left is the (offline, absent) model
    assert out.exit_code == 2 and len(out.lines) == 1 and NOBODY in out.lines[0] and "u2028" not in out.lines[0], \
        out.lines


def test_a_record_at_the_length_limit_is_accepted_and_one_char_more_is_not(tmp_path):
    from obliviate.core.errors import DataError
    from obliviate.llm.data import load_jsonl
    from obliviate.llm.data.records import MAX_TEXT_CHARS

    rec = {"entity": "Ada", "question": "q?", "answer": "a" * MAX_TEXT_CHARS, "paraphrased_question": "q?",
           "paraphrased_answer": "a", "perturbed_answers": ["b"], "fact_type": "x"}
    ok = tmp_path / "ok.jsonl"
    ok.write_text(json.dumps(rec) + "\n")
    assert len(load_jsonl(ok)[0].answer) == MAX_TEXT_CHARS
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**rec, "perturbed_answers": ["b" * (MAX_TEXT_CHARS + 1)]}) + "\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:1: field 'perturbed_answers'"):
        load_jsonl(bad)


def test_api_configs_refuse_nonsense_too():
    """The checks live in the config dataclasses, so API users get them as well."""
    from obliviate import api
    from obliviate.core.errors import ConfigError
    from obliviate.train.trainer import TrainConfig

    for kw in ({"epochs": float("nan")}, {"epochs": float("inf")}, {"lr": float("nan")}, {"seed": -1},
               {"warmup_ratio": 1.0}, {"max_grad_norm": float("nan")}, {"weight_decay": -0.1}):
        with pytest.raises(ConfigError):
            TrainConfig(**kw)
    with pytest.raises(ConfigError, match="eval_max_per_split"):
        api.DemoConfig(eval_max_per_split=0)
    with pytest.raises(ConfigError, match="seed"):
        api.WorldConfig(seed=-1)
    with pytest.raises(ConfigError, match="epochs"):
        api.demo_config_from({"unlearn": {"epochs": float("nan")}})


# Safety agent (issue 21 item 6): every string of an HTML report is escaped.
def test_report_escapes_a_hostile_run_folder_name_and_method(tmp_path):
    from typer.testing import CliRunner

    from obliviate.cli import app

    run = tmp_path / "<img src=x onerror=alert(1)>"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"method": "<script>alert(2)</script>", "models": {},
                                                  "splits": {"variant": "<b>v</b>", "n": {}}}))
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text()
    assert "<img src=x" not in html and "<script>alert" not in html and "<b>v</b>" not in html
