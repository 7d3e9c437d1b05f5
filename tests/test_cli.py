"""The command line (``obliviate.cli``), end to end: bad input gets one clear line and exit code 2, with nothing
written half-way; commands list, run, resume and report."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from obliviate import api
from obliviate.cli import app

runner = CliRunner()


def _run(args, tmp_path):
    result = runner.invoke(app, args)
    lines = [l for l in result.output.splitlines() if l.strip()]
    return result, lines


@pytest.fixture()
def split_files(tmp_path, splits):
    from obliviate.llm.data import save_jsonl

    save_jsonl(splits.forget, tmp_path / "forget.jsonl")
    save_jsonl(splits.retain, tmp_path / "retain.jsonl")
    return tmp_path / "forget.jsonl", tmp_path / "retain.jsonl"


def _assert_clean_failure(result, lines, runs, pattern):
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0], lines
    assert not runs.exists() or not any(runs.iterdir())


def test_missing_model_path(tmp_path, split_files):
    runs = tmp_path / "runs"
    result, lines = _run(["unlearn", "--model", str(tmp_path / "nope"), "--forget", str(split_files[0]),
                          "--retain", str(split_files[1]), "--runs-dir", str(runs)], tmp_path)
    _assert_clean_failure(result, lines, runs, "model not found")


@pytest.mark.trains
def test_jsonl_with_missing_field(tmp_path, split_files, tiny_target):
    model_dir = tmp_path / "m"
    tiny_target[0].save_pretrained(model_dir)
    tiny_target[1].save_pretrained(model_dir)
    bad = tmp_path / "bad.jsonl"
    rec = json.loads(split_files[0].read_text().splitlines()[0])
    del rec["answer"]
    bad.write_text(json.dumps(rec) + "\n")
    runs = tmp_path / "runs"
    result, lines = _run(["unlearn", "--model", str(model_dir), "--forget", str(bad),
                          "--retain", str(split_files[1]), "--runs-dir", str(runs)], tmp_path)
    _assert_clean_failure(result, lines, runs, "missing field 'answer'")
    assert "bad.jsonl:1" in lines[0]


def test_unknown_method(tmp_path, split_files):
    runs = tmp_path / "runs"
    result, lines = _run(["unlearn", "--model", "HuggingFaceTB/SmolLM2-135M-Instruct", "--method", "forgetall",
                          "--forget", str(split_files[0]), "--retain", str(split_files[1]),
                          "--runs-dir", str(runs)], tmp_path)
    _assert_clean_failure(result, lines, runs, "unknown method 'forgetall'; valid: AltPO, CE-U")


def test_forget_split_naming_no_entity(tmp_path, split_files):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    runs = tmp_path / "runs"
    result, lines = _run(["unlearn", "--model", "HuggingFaceTB/SmolLM2-135M-Instruct", "--forget", str(empty),
                          "--retain", str(split_files[1]), "--runs-dir", str(runs)], tmp_path)
    _assert_clean_failure(result, lines, runs, "names no entity")


def test_unknown_method_in_demo_and_bad_override(tmp_path):
    runs = tmp_path / "runs"
    result, lines = _run(["demo", "--tiny", "--method", "nope", "--runs-dir", str(runs)], tmp_path)
    _assert_clean_failure(result, lines, runs, "unknown method")
    result, lines = _run(["demo", "--tiny", "--set", "betta=1", "--runs-dir", str(runs)], tmp_path)
    _assert_clean_failure(result, lines, runs, "unknown key")


@pytest.mark.trains
def test_cli_unlearn_writes_a_run_folder(tmp_path, split_files, tiny_target):
    model_dir = tmp_path / "m"
    tiny_target[0].save_pretrained(model_dir)
    tiny_target[1].save_pretrained(model_dir)
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["unlearn", "--model", str(model_dir), "--method", "graddiff",
                                 "--forget", str(split_files[0]), "--retain", str(split_files[1]),
                                 "--epochs", "1", "--lr", "1e-3", "--runs-dir", str(runs),
                                 "--combiner", "gu", "--combiner-set", "k=4", "--sampling", "melu"])
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    assert {"config.yaml", "events.jsonl", "model"} <= {p.name for p in run.iterdir()}
    assert (run / "model" / "config.json").is_file()
    train = yaml.safe_load((run / "config.yaml").read_text())["train"]
    assert train["combiner"] == "gu" and train["combiner_config"]["k"] == 4 and train["sampling"] == "melu"
    assert "gu_kept" in (run / "events.jsonl").read_text()  # the projection ran
    args = ["eval", "--model", str(model_dir), "--forget", str(split_files[0]), "--retain", str(split_files[1]),
            "--metric", "memo", "--max-per-split", "4", "--out", str(tmp_path / "m.json")]
    for _ in range(2):  # the second run replaces the file the first one wrote (its own; a foreign file is refused)
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    assert 0 < json.loads(result.output[result.output.index("{"):])["forget"]["memo"] <= 1
    assert json.loads((tmp_path / "m.json").read_text())["written_by"] == "obliviate eval"
    page = (tmp_path / "m.html").read_text()  # the report beside the JSON, replaced by the second run too
    assert "obliviate eval" in page and "Forget quality needs --gold." in page and str(model_dir) in page


@pytest.mark.trains
def test_cli_sae_guided_on_own_files_needs_a_holdout(tmp_path, split_files, tiny_target, splits):
    from obliviate.llm.data import save_jsonl

    model_dir = tmp_path / "m"
    tiny_target[0].save_pretrained(model_dir)
    tiny_target[1].save_pretrained(model_dir)
    runs = tmp_path / "runs"
    args = ["unlearn", "--model", str(model_dir), "--method", "saeguided", "--forget", str(split_files[0]),
            "--retain", str(split_files[1]), "--epochs", "1", "--lr", "1e-3", "--runs-dir", str(runs),
            "--set", "sae_epochs=5", "--set", "sae_expansion=4"]
    result, lines = _run(args, tmp_path)
    _assert_clean_failure(result, lines, runs, "holdout")  # no half-made run folder is left
    save_jsonl(splits.holdout, tmp_path / "unseen.jsonl")
    result = runner.invoke(app, [*args, "--holdout", str(tmp_path / "unseen.jsonl")])
    assert result.exit_code == 0, result.output
    run = max(runs.iterdir())
    assert (run / "model" / "config.json").is_file()
    assert yaml.safe_load((run / "config.yaml").read_text())["holdout"].endswith("unseen.jsonl")


def test_cli_rejects_bad_combiner_and_sampler_settings(tmp_path, split_files):
    runs = tmp_path / "runs"
    base = ["unlearn", "--model", "HuggingFaceTB/SmolLM2-135M-Instruct", "--forget", str(split_files[0]),
            "--retain", str(split_files[1]), "--runs-dir", str(runs)]
    for extra, pattern in ((["--combiner", "gu", "--combiner-set", "geometry=curved"], "gu.geometry must be one of"),
                           (["--combiner-set", "k=3"], "the sum combiner takes no settings"),
                           (["--sampling", "shuffled"], "unknown sampling 'shuffled'"),
                           (["--sampling", "melu", "--neighbours", "cousins"], "unknown neighbour set 'cousins'")):
        result, lines = _run(base + extra, tmp_path)
        _assert_clean_failure(result, lines, runs, pattern)


def test_methods_lists_every_registered_method():
    from obliviate.llm.methods import METHODS

    out = runner.invoke(app, ["methods"], terminal_width=200).output
    for name in METHODS.names():
        assert name in out


NEW = ("UNDIAL", "CE-U", "WGA", "SatImp", "PDU", "AltPO")


def test_new_methods_are_listed_by_the_cli_with_their_paper():
    from typer.testing import CliRunner

    from obliviate.cli import app
    from obliviate.llm.methods import METHODS

    out = CliRunner().invoke(app, ["methods"], terminal_width=400).output
    for name in NEW:
        arxiv = METHODS.entry(name).paper.split("arXiv ")[1].split(";")[0]
        assert name in out and arxiv in out, name


@pytest.mark.trains
def test_tiny_demo_end_to_end(tmp_path, tiny_target, tiny_gold):
    """The demo path on the tiny models the fixtures already trained (same cache keys)."""
    from obliviate import api
    from tests.helpers import tiny_finetune_config

    cfg = api.tiny_demo_config(world=api.WorldConfig(n_entities=16, seed=0), finetune=tiny_finetune_config(),
                               runs_dir=str(tmp_path / "runs"))
    run = api.run_demo(cfg)
    metrics = json.loads((run / "metrics.json").read_text())
    t, u, g = (metrics["models"][k] for k in ("target", "unlearned", "gold"))
    assert u["forget"]["answer_prob"] < 0.5 * t["forget"]["answer_prob"]
    assert u["model_utility_hmean"] > 0.5 * t["model_utility_hmean"]
    assert g["forget_quality_ks_pvalue"] == 1.0 and "forget_quality_ks_pvalue" in u
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "forget quality" in html
    assert "forget answers of the right kind" in html and g["forget"]["plausible_wrong"] >= 0.8  # gold: wrong values
    assert (run / "model" / "config.json").is_file() and (run / "config.yaml").is_file()
    assert (run / "events.jsonl").read_text().count("\n") >= 1
    audit_the_demo_run(run, tmp_path)
    lens_the_demo_run(run, tmp_path)


def lens_the_demo_run(run, tmp_path):
    """`obliviate lens`: the SAE entity lens of the run's target, and the run's model read through it."""
    from obliviate.llm.interp.latents import EntityLens

    result = runner.invoke(app, ["lens", "--config", str(run / "config.yaml"), "--expansion", "4", "--k", "6",
                                 "--epochs", "30", "--check", str(run), "--out", str(tmp_path / "lens")])
    assert result.exit_code == 0, result.output
    assert "held-out FVE" in result.output and "known latents" in result.output
    assert "target: knownness" in result.output and "checked: knownness" in result.output
    lens = EntityLens.load(tmp_path / "lens")
    assert lens.latents.known and lens.latents.unknown and lens.point == "resid.0"
    result = runner.invoke(app, ["lens", "--tiny", "--layer", "7"])
    assert result.exit_code == 2 and "outside" in result.output


def audit_the_demo_run(run, tmp_path):
    """`obliviate audit RUN`: world and models come from the run's config; exit code is the verdict."""
    from obliviate import api
    from obliviate.core.config import load_yaml
    from obliviate.llm.data import save_jsonl

    result = runner.invoke(app, ["audit", str(run), "--out", str(tmp_path / "audit.json")])
    assert result.exit_code in (0, 1), result.output
    verdict = json.loads((tmp_path / "audit.json").read_text())["verdict"]
    assert result.exit_code == (0 if verdict == "FORGOTTEN" else 1)
    assert f"verdict: {verdict}" in result.output and "[PASS] original_knew" in result.output
    page = (tmp_path / "audit.html").read_text()  # the report beside the JSON
    assert f"Verdict: {verdict}." in page and "original_knew" in page and "forgetting checks" in page
    (tmp_path / "mine.html").write_text("<p>not an audit</p>")
    result = runner.invoke(app, ["audit", str(run), "--out", str(tmp_path / "mine.json")])
    assert result.exit_code == 2 and "not written by `obliviate audit`" in result.output  # never overwritten
    assert (tmp_path / "mine.html").read_text() == "<p>not an audit</p>"
    # people the model never saw: the audit says so instead of certifying
    cfg = api.demo_config_from(load_yaml(run / "config.yaml"))
    holdout = api.load_world_splits(api.build_world(cfg.world), cfg.variant).holdout
    save_jsonl(holdout, tmp_path / "unseen.jsonl")
    result = runner.invoke(app, ["audit", str(run), "--forget", str(tmp_path / "unseen.jsonl")])
    assert result.exit_code == 3, result.output
    assert "NOT APPLICABLE" in result.output and "never learned" in result.output
    result = runner.invoke(app, ["audit", str(run), "--forget", "forget99"])
    assert result.exit_code == 2 and "forget01" in result.output


@pytest.mark.trains
def test_interrupted_unlearn_resumes_from_its_run_folder(tmp_path, split_files, tiny_target, splits):
    """Ctrl-C mid-run leaves a checkpoint; `unlearn --resume RUN` finishes it like an uninterrupted run."""
    import copy

    import torch

    from obliviate import api
    from obliviate.llm import pipeline

    model_dir = tmp_path / "m"
    tiny_target[0].save_pretrained(model_dir)
    tiny_target[1].save_pretrained(model_dir)
    cfg = dict(epochs=2.0, lr=1e-3, batch_size=4, checkpoint_every=0)
    full = api.unlearn(copy.deepcopy(tiny_target[0]), tiny_target[1], splits, "npo", api.UnlearnConfig(**cfg))

    def ctrl_c(step, logs):
        if step == 3:
            raise KeyboardInterrupt

    args = ["unlearn", "--model", str(model_dir), "--method", "npo", "--forget", str(split_files[0]),
            "--retain", str(split_files[1]), "--epochs", "2", "--lr", "1e-3"]
    real_unlearn = pipeline.unlearn
    pipeline.unlearn = lambda *a, callbacks=None, **kw: real_unlearn(*a, callbacks=[ctrl_c], **kw)
    try:  # typer turns Ctrl-C into exit code 130
        assert runner.invoke(app, args + ["--runs-dir", str(tmp_path / "runs")]).exit_code == 130
    finally:
        pipeline.unlearn = real_unlearn
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "checkpoint" / "state.json").is_file()
    result = runner.invoke(app, args + ["--resume", str(run)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line)["step"] for line in (run / "events.jsonl").read_text().splitlines()]
    assert events == list(range(1, len(events) + 1))  # each step logged once
    from transformers import AutoModelForCausalLM

    resumed = AutoModelForCausalLM.from_pretrained(run / "model")
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert not (run / "checkpoint").exists()


@pytest.mark.trains
def test_cli_unlearn_on_tofu_files_with_a_lora_adapter(tmp_path, tiny_target):
    """`--data tofu:FOLDER` reads the published layout; `--lora ... --lora-save adapter` keeps only the adapter."""
    folder = tmp_path / "TOFU"  # 4 authors x 2 QA in the published JSON-lines files; author 3 is forget10
    folder.mkdir()

    def qa(a, j):
        return {"question": f"What did author {a} write, question {j}?", "answer": f"Author {a} wrote book {j}.",
                "paraphrased_answer": f"Book {j} is by author {a}.",
                "perturbed_answer": [f"Author {a} wrote poem {j}.", f"Author {a} wrote play {j}."]}

    files = {"retain90": [qa(a, j) for a in range(3) for j in range(2)], "forget10_perturbed": [qa(3, 0), qa(3, 1)],
             "retain_perturbed": [qa(0, 0), qa(0, 1)],
             "world_facts_perturbed": [{"question": "What is the capital of Australia?", "answer": "Canberra",
                                        "perturbed_answer": ["Sydney", "Perth"]}],
             "real_authors_perturbed": [{"question": "Who wrote 'Emma'?", "answer": "Jane Austen",
                                         "perturbed_answer": ["Mary Shelley", "Emily Bronte"]}]}
    for name, rows in files.items():
        (folder / f"{name}.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    model_dir = tmp_path / "m"
    tiny_target[0].save_pretrained(model_dir)
    tiny_target[1].save_pretrained(model_dir)
    runs = tmp_path / "runs"
    args = ["unlearn", "--model", str(model_dir), "--method", "graddiff", "--data", f"tofu:{folder}",
            "--data-set", "qa_per_author=2", "--epochs", "1", "--lr", "1e-3", "--runs-dir", str(runs),
            "--lora", "r=4,alpha=8,targets=q_proj,v_proj", "--lora-save", "adapter"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    files = {p.name for p in (run / "model").iterdir()}
    assert "adapter_config.json" in files and "config.json" not in files
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["train"]["lora_r"] == 4 and cfg["train"]["lora_targets"] == "q_proj,v_proj"
    result = runner.invoke(app, ["eval", "--model", str(run / "model"), "--data", f"tofu:{folder}",
                                 "--data-set", "qa_per_author=2", "--max-per-split", "4"])
    assert result.exit_code == 0, result.output  # the adapter folder is a model spec
    for bad, msg in [(["--data", "tofu"], "FORMAT:FOLDER"), (["--data", f"nosuch:{folder}"], "unknown benchmark"),
                     (["--lora-save", "adapter"], "needs --lora"), (["--lora", "alpha=3"], "needs r")]:
        result = runner.invoke(app, ["unlearn", "--model", str(model_dir), *bad, "--runs-dir", str(runs)])
        assert result.exit_code == 2 and msg in result.output, result.output


@pytest.mark.trains
def test_eval_original_counts_the_facts_it_knew(tmp_path, world_dir, tiny_target, monkeypatch):
    """``eval --original``: model utility counts the world facts and real entities the original knew (nine numbers)."""
    import shutil

    from obliviate import api
    from obliviate.llm.data import load_real_entities
    from obliviate.llm.eval import options

    model_dir = tmp_path / "original"  # a copy: the known-fact lists are cached beside the model
    shutil.copytree(api.model_folder(tiny_target[0]), model_dir, ignore=shutil.ignore_patterns("known-facts-*"))
    args = ["eval", "--model", str(model_dir), "--world", str(world_dir), "--max-per-split", "40"]

    def metrics(extra):
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 0, result.output
        return json.loads(result.output[result.output.index("{"):])

    plain = metrics([])
    assert plain["model_utility_splits"] == ["retain", "world_facts"] and "real_entities" not in plain
    # The tiny model's vocabulary is the world's words, so it knows no real person: stand in for an original that
    # knows the first seven real entities and half the world facts (the real check runs for everything else).
    real_ids = {r.id for r in load_real_entities()[:7]}
    facts = api.load_world_splits(world_dir, "forget10").world_facts
    fact_ids = {r.id for r in facts[: len(facts) // 2]}
    monkeypatch.setattr(options, "known_facts", lambda scorer, records, desc="": [
        r for r in records if r.id in real_ids | fact_ids])
    known = metrics(["--original", str(model_dir)])
    assert known["model_utility_splits"] == ["retain", "real_entities", "world_facts"]
    assert known["real_entities"]["n"] == 7 and known["world_facts"]["n"] == len(fact_ids)
    assert known["retain"] == plain["retain"]
    assert known["model_utility_hmean"] != plain["model_utility_hmean"]
    result = runner.invoke(app, [*args, "--original", str(model_dir), "--data", "tofu:nowhere"])
    assert result.exit_code == 2 and "--original applies to a world" in result.output


def test_one_name_per_concept_across_commands():
    """--forget-split names a split, --forget-file / --retain-file are JSONL files, --forget-splits a list, in every
    command that takes them; the older spellings are aliases of the same option."""
    import typer

    group = typer.main.get_command(app)

    def names(command: str, param: str) -> set[str]:
        (p,) = [p for p in group.commands[command].params if p.name == param]
        return set(p.opts)

    for command in ("unlearn", "eval"):
        assert names(command, "split") == {"--forget-split", "--split"}
        assert names(command, "forget") == {"--forget-file", "--forget"}
        assert names(command, "retain") == {"--retain-file", "--retain"}
    assert {"--forget-split", "--forget-file"} <= names("audit", "forget")
    for command in ("bench", "sweep"):
        assert names(command, "splits") == {"--forget-splits", "--splits"}


@pytest.mark.trains
def test_cli_eval_compat_writes_openunlearnings_summary(tiny_target, splits, tmp_path):
    from typer.testing import CliRunner

    from obliviate.cli import app
    from obliviate.llm.data import save_jsonl

    model, tok = tiny_target
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    save_jsonl(splits.forget[:6], tmp_path / "f.jsonl")
    save_jsonl(splits.retain[:6], tmp_path / "r.jsonl")
    args = ["eval", "--model", str(tmp_path / "m"), "--forget", str(tmp_path / "f.jsonl"), "--retain",
            str(tmp_path / "r.jsonl"), "--max-per-split", "6", "--compat", "openunlearning",
            "--summary", str(tmp_path / "TOFU_SUMMARY.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output[result.output.index("{"):])
    assert printed["compat"] == "openunlearning"
    summary = json.loads((tmp_path / "TOFU_SUMMARY.json").read_text())
    assert summary["forget_Q_A_Prob"] == pytest.approx(printed["forget"]["answer_prob"])
    assert summary["forget_truth_ratio"] == pytest.approx(printed["forget"]["truth_ratio"])
    assert summary["retain_Q_A_ROUGE"] == pytest.approx(printed["retain"]["rouge_l_recall"])
    assert 0 <= summary["extraction_strength"] <= 1 and 0 <= summary["exact_memorization"] <= 1
    assert all(isinstance(v, float) for v in summary.values())
    again = CliRunner().invoke(app, args)  # the summary is never overwritten
    assert again.exit_code == 2 and "summary" in again.output


def test_cli_bench_configs_rejects_a_second_source(tmp_path):
    from typer.testing import CliRunner

    from obliviate.cli import app

    res = CliRunner().invoke(app, ["bench", "--configs", str(tmp_path / "sweep.json"), "--model", "tiny",
                                   "--out", str(tmp_path / "b")])
    assert res.exit_code == 2 and "drop --config, --model and --profile" in res.output
    res = CliRunner().invoke(app, ["bench", "--configs", str(tmp_path / "sweep.json"), "--out", str(tmp_path / "b")])
    assert res.exit_code == 2 and "sweep.json" in res.output and not (tmp_path / "b").exists()


def test_sweep_profile_tunes_on_the_profiles_world(monkeypatch, tmp_path):
    from obliviate.llm import sweep as sw

    seen = {}

    def fake(cfg, out):
        seen["cfg"] = cfg
        raise SystemExit(0)  # the configuration is all this test reads

    monkeypatch.setattr(sw, "run_sweep", fake)
    result = CliRunner().invoke(app, ["sweep", "--profile", "standard", "--methods", "npo", "--out",
                                      str(tmp_path / "sweep")])
    assert result.exit_code == 0, result.output
    assert seen["cfg"].bench.world == api.world_profile("standard")


# Options whose default a config supplies: the CLI passes "not given" (None) and its help quotes the config's value,
# so a default lives in one place and the help cannot drift from it.
CONFIG_DEFAULTS = [
    (("graph", "unlearn"), "dataset", "obliviate.graph.bench:GraphRunConfig", "dataset"),
    (("graph", "unlearn"), "task", "obliviate.graph.bench:GraphRunConfig", "task"),
    (("graph", "unlearn"), "where", "obliviate.graph.bench:GraphRunConfig", "where"),
    (("graph", "unlearn"), "backbone", "obliviate.graph.bench:GraphRunConfig", "backbone"),
    (("graph", "bench"), "backbone", "obliviate.graph.bench:GraphRunConfig", "backbone"),
    (("graph", "bench"), "datasets", "obliviate.graph.bench:GraphBenchConfig", "datasets"),
    (("graph", "bench"), "tasks", "obliviate.graph.bench:GraphBenchConfig", "tasks"),
    (("graph", "bench"), "seeds", "obliviate.graph.bench:GraphBenchConfig", "seeds"),
    (("vision", "unlearn"), "source", "obliviate.vision.bench:VisionRunConfig", "source"),
    (("vision", "unlearn"), "aligned", "obliviate.vision.bench:VisionRunConfig", "aligned"),
    (("vision", "unlearn"), "model", "obliviate.vision.bench:VisionRunConfig", "arch"),
    (("vision", "unlearn"), "forget_class", "obliviate.vision.bench:VisionRunConfig", "forget_class"),
    (("vision", "bench"), "seeds", "obliviate.vision.bench:VisionBenchConfig", "seeds"),
    (("vision", "bench"), "source", "obliviate.vision.bench:VisionRunConfig", "source"),
    (("vision", "bench"), "aligned", "obliviate.vision.bench:VisionRunConfig", "aligned"),
    (("eval",), "max_per_split", "obliviate.llm.eval.suite:MAX_PER_SPLIT", ""),
    (("lens",), "layer", "obliviate.llm.interp.latents:LensConfig", "layer"),
    (("lens",), "expansion", "obliviate.llm.interp.sae:SAEConfig", "expansion"),
    (("lens",), "k", "obliviate.llm.interp.sae:SAEConfig", "k"),
    (("lens",), "epochs", "obliviate.llm.interp.sae:SAEConfig", "epochs"),
    (("smarl", "train"), "case", "obliviate.smarl.env:EnvConfig", "case"),
    (("smarl", "train"), "n", "obliviate.smarl.env:EnvConfig", "n"),
    (("smarl", "train"), "episode_steps", "obliviate.smarl.env:EnvConfig", "episode_steps"),
    (("smarl", "train"), "form", "obliviate.smarl.env:EnvConfig", "form"),
    (("smarl", "train"), "iterations", "obliviate.smarl.rl:TrainConfig", "iterations"),
    (("smarl", "train"), "envs", "obliviate.smarl.rl:TrainConfig", "envs"),
    (("smarl", "train"), "rollout", "obliviate.smarl.rl:TrainConfig", "rollout"),
    (("smarl", "train"), "seed", "obliviate.smarl.rl:TrainConfig", "seed"),
    (("smarl", "train"), "checkpoint_every", "obliviate.smarl.rl:TrainConfig", "checkpoint_every"),
    (("smarl", "eval"), "t_avg", "obliviate.smarl.evaluate:EvalConfig", "t_avg"),
    (("smarl", "simulate"), "case", "obliviate.smarl.evaluate:EvalConfig", "case"),
    (("smarl", "simulate"), "n", "obliviate.smarl.evaluate:EvalConfig", "n"),
    (("smarl", "simulate"), "t_avg", "obliviate.smarl.evaluate:EvalConfig", "t_avg"),
    (("smarl", "simulate"), "t_end", "obliviate.smarl.report:simulate_closure", "t_end"),
    (("smarl", "reference"), "case", "obliviate.smarl.evaluate:EvalConfig", "case"),
    (("smarl", "reference"), "dns_n", "obliviate.smarl.evaluate:EvalConfig", "dns_n"),
    (("smarl", "reference"), "t_end", "obliviate.smarl.evaluate:EvalConfig", "dns_t_end"),
    (("smarl", "reference"), "t_spinup", "obliviate.smarl.evaluate:EvalConfig", "dns_t_spinup"),
]


def _config_default(where: str, name: str):
    import dataclasses
    import importlib
    import inspect

    module, _, obj = where.partition(":")
    target = getattr(importlib.import_module(module), obj)
    if not name:
        return target
    if inspect.isfunction(target):  # a function's own keyword default
        return inspect.signature(target).parameters[name].default
    f = {f.name: f for f in dataclasses.fields(target)}[name]
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def _shown(value) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


@pytest.mark.parametrize("path, option, where, name", CONFIG_DEFAULTS)
def test_cli_defaults_come_from_the_config_and_help_quotes_them(path, option, where, name):
    import typer.main

    from obliviate.cli import app

    cmd = typer.main.get_command(app)
    for part in path:
        cmd = cmd.commands[part]
    param = {p.name: p for p in cmd.params}[option]
    assert param.default is None, f"{' '.join(path)} --{option}: the CLI writes its own default"
    assert f"default {_shown(_config_default(where, name))}" in param.help, (param.help, _config_default(where, name))


def test_bench_prints_a_compact_table_and_points_to_the_files(monkeypatch, tmp_path):
    """The terminal shows the headline columns (no interval wrapping over lines); the files hold the rest."""
    from obliviate.llm import bench as b

    def fake_run_bench(cfg, out):
        out.mkdir(parents=True)
        rows = [{"name": "npo", "control": False, "forget_quality": 0.42, "model_utility": 0.5012,
                 "model_utility_ci": [0.4, 0.6], "forgotten": "2/3", "marks": {"forget_quality": "best"}},
                {"name": "gold", "control": True, "forget_quality": 1.0, "model_utility": float("nan")}]
        (out / "leaderboard.json").write_text(json.dumps({"rows": rows, "n_runs": 4, "heads": {
            "forget_quality": "forget quality (KS p)", "model_utility": "model utility"}}))
        return out

    monkeypatch.setattr(b, "run_bench", fake_run_bench)
    res = runner.invoke(app, ["bench", "--tiny", "--out", str(tmp_path / "b")], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "forget quality (KS p)" in res.output and "0.42 ★" in res.output and "0.501" in res.output
    assert "gold (control)" in res.output and "[0.4" not in res.output  # intervals stay in the files
    assert "leaderboard.md" in res.output and "report.html" in res.output


def test_set_takes_dotted_paths_into_the_whole_config(monkeypatch, tmp_path):
    """`--set unlearn.lr=1e-3 --set variant=forget05` reach the demo's config, `beta=0.2` the method's; bench and
    sweep take dotted paths into theirs; an unknown setting is one clear error naming the valid ones."""
    from obliviate import api
    from obliviate.llm import bench as b
    from obliviate.llm import sweep as sw

    seen = {}

    def capture(name):
        def fake(cfg, *args, **kwargs):
            seen[name] = cfg
            raise SystemExit(0)  # the configuration is all this test reads
        return fake

    monkeypatch.setattr(api, "run_demo", capture("demo"))
    monkeypatch.setattr(b, "run_bench", capture("bench"))
    monkeypatch.setattr(sw, "run_sweep", capture("sweep"))
    runner.invoke(app, ["demo", "--tiny", "--set", "unlearn.lr=1e-3", "--set", "variant=forget05", "--set",
                        "beta=0.2", "--set", "world.n_entities=30", "--name", "mine"])
    cfg = seen["demo"]
    assert (cfg.unlearn.lr, cfg.variant, cfg.world.n_entities, cfg.name) == (1e-3, "forget05", 30, "mine")
    assert cfg.method_config == {"beta": "0.2"}  # typed by the method when it is made, as before
    runner.invoke(app, ["bench", "--tiny", "--set", "unlearn.lr=1e-3", "--set", "eval_max_per_split=7",
                        "--out", str(tmp_path / "b")])
    assert (seen["bench"].unlearn.lr, seen["bench"].eval_max_per_split) == (1e-3, 7)
    runner.invoke(app, ["sweep", "--tiny", "--set", "bench.unlearn.epochs=3", "--set", "threshold=0.1",
                        "--out", str(tmp_path / "s")])
    assert (seen["sweep"].bench.unlearn.epochs, seen["sweep"].threshold) == (3.0, 0.1)
    for command in (["demo", "--tiny"], ["bench", "--tiny", "--out", str(tmp_path / "b2")]):
        res = runner.invoke(app, [*command, "--set", "unlearn.nope=1"])
        assert res.exit_code == 2 and "unknown setting 'nope'" in res.output and "warmup_ratio" in res.output
    res = runner.invoke(app, ["demo", "--tiny", "--set", "beta.x=1"])
    assert res.exit_code == 2 and "'beta' is not a section" in res.output
