"""What the README and the tour show agrees with the code: every command line names real commands and options,
the component tables list exactly what the registries hold, the README's Python runs, and it stays short.
Cross-cutting (the documents against the commands and registries), so at the top level of tests/
(tests/test_layout.py lists it)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from obliviate.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TOUR = ROOT / "docs" / "tour.md"


def code_blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def command_lines(path: Path) -> list[str]:
    """The ``obliviate ...`` lines of a file's bash blocks, comments and environment prefixes removed."""
    out = []
    for block in code_blocks(path, "bash"):
        for line in block.splitlines():
            line = line.split(" # ")[0].strip()
            words = shlex.split(line) if line else []
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)
            if words and words[0] == "obliviate":
                out.append(words)
    return out


def is_group(cmd) -> bool:
    return hasattr(cmd, "commands")


def resolve(words: list[str]):
    """The (click) command the words name and the words after it."""
    cmd = typer.main.get_command(app)
    rest = words[1:]
    while is_group(cmd) and rest and rest[0] in cmd.commands:
        cmd, rest = cmd.commands[rest[0]], rest[1:]
    return cmd, rest


def options(cmd) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("path", [README, TOUR], ids=["README", "tour"])
def test_every_command_line_names_real_commands_and_options(path):
    lines = command_lines(path)
    assert len(lines) >= 8, "the tour lost its command lines"
    for words in lines:
        cmd, rest = resolve(words)
        assert not is_group(cmd), f"{' '.join(words)}: no such command"
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in options(cmd), f"{' '.join(words)}: {word} is not an option"


def test_the_command_line_check_catches_a_bad_line():
    assert is_group(resolve(["obliviate", "graph", "nope"])[0])
    cmd, rest = resolve(["obliviate", "bench", "--methodz", "npo"])
    assert "--methodz" in rest and "--methodz" not in options(cmd) and "--methods" in options(cmd)


def table_names(section: str) -> list[str]:
    """First-column names (in backticks) of the first table after the line starting ``section``."""
    text = README.read_text(encoding="utf-8")
    rows = text[text.index(section):].split("\n\n| ", 1)[1].split("\n\n")[0].splitlines()[2:]
    return [re.match(r"\| `([^`]+)`", r).group(1) for r in rows]


def row_names(domain: str) -> set[str]:
    row = next(r for r in README.read_text(encoding="utf-8").splitlines() if r.startswith(f"| {domain} |"))
    return set(re.findall(r"`([^`]+)`", row.split("|")[2]))


def test_component_tables_list_exactly_the_registries():
    from obliviate.graph.methods import GRAPH_METHODS
    from obliviate.llm.methods import METHODS
    from obliviate.smarl.closures import CLOSURES
    from obliviate.vision.methods import VISION_METHODS

    assert sorted(table_names("LLM methods")) == sorted(METHODS.names())
    assert row_names("graph") == set(GRAPH_METHODS.names())
    assert row_names("vision") == set(VISION_METHODS.names())
    assert row_names("SMARL") == set(CLOSURES.names())


def test_readme_is_a_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode()) < 15_000
    assert text.index("## Install and run") < 2_500  # the commands come before the catalogue
    for link in re.findall(r"\]\(([^)#]+)", text):
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link


@pytest.mark.trains
def test_readme_python_runs(tmp_path):
    """The README's Python block, as written, in a fresh interpreter (the tiny demo's world and models, in the
    session's cache): it prints forget quality and model utility."""
    (block,) = code_blocks(README, "python")
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True,
                            timeout=900, env={**os.environ, "OBLIVIATE_QUIET": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    fq, utility = (float(x) for x in result.stdout.split()[-2:])
    assert 0 <= fq <= 1 and 0 < utility <= 1


def test_the_tour_states_the_configs_training_defaults():
    """The CLI passes only what it is given; the tour quotes the config's defaults, which must be the real ones."""
    from obliviate import api

    text = " ".join(TOUR.read_text(encoding="utf-8").split())
    for name, cfg in (("FinetuneConfig", api.FinetuneConfig()), ("UnlearnConfig", api.UnlearnConfig())):
        stated = re.search(rf"`api.{name}\(\)`'s ([^,]+), ([^,]+), ([^,]+), ([^)]+)\)", text).groups()
        assert [float(x) for x in stated] == [cfg.epochs, cfg.lr, cfg.batch_size, cfg.grad_accum], name


def test_the_readme_demo_table_is_what_the_code_prints_for_its_run():
    """``scripts/readme_table.py RUN`` wrote the table and the run's figures (docs/demo-metrics.json); the table
    must be what ``readme_table`` makes of them, so an edit by hand or a changed formatter shows here."""
    import json

    from obliviate.core.report.html import readme_table

    metrics = json.loads((ROOT / "docs" / "demo-metrics.json").read_text(encoding="utf-8"))
    shown = re.search(r"<!-- demo-table -->\n(.*?)\n<!-- /demo-table -->", README.read_text(encoding="utf-8"), re.S)
    assert shown and shown.group(1) == readme_table(metrics)
    assert metrics["run"] in README.read_text(encoding="utf-8")  # the README names the run it shows


@pytest.mark.trains
def test_the_readme_tour_runs_as_written_on_the_tiny_path(tmp_path, monkeypatch):
    """Every line of the README's tour, in order, in a fresh folder: LLM lines with ``--tiny`` (as the README
    says), the graph line on a toy graph standing in for Cora (CI has no data), both benches with one seed."""
    from typer.testing import CliRunner

    from obliviate.graph import bench as gb
    from tests.graph.helpers import two_communities

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gb, "planetoid_graph", lambda name, seed=0, data_dir=None: two_communities(seed=seed))
    tour = [w for w in command_lines(README) if w[1] not in ("demo",) or len(w) > 2]  # not the install's demo
    assert len(tour) >= 10
    runner = CliRunner()
    for words in tour:
        cmd, _ = resolve(words)
        args = [next((str(p) for p in sorted(Path("runs").glob(w.split("/", 1)[1].replace("<stamp>", "*") + "*"))),
                     w) if "<stamp>" in w else w for w in words[1:]]
        if "--tiny" in options(cmd) and "--configs" not in args:
            args.append("--tiny")
            for opt in ("--model", "--original"):  # the default model's place is the tiny target's on the tiny path
                if opt in args and args[args.index(opt) + 1] == "smollm2-135m":
                    del args[args.index(opt):args.index(opt) + 2]
        if words[1] in ("graph", "vision"):
            args += ["--seeds", "0"] + (["--tasks", "edge", "--datasets", "cora"] if words[1] == "graph" else [])
        res = runner.invoke(app, args)
        ok = (0, 1, 3) if words[1] == "audit" else (0,)  # audit's exit code is its verdict
        assert res.exit_code in ok, f"{' '.join(args)}: {res.output[-1500:]}"
