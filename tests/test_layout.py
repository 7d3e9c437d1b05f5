"""The test tree mirrors the source: the tests of ``src/obliviate/a/b.py`` are ``tests/a/test_b.py``.

Cross-cutting (the rules of the whole tree), so at the top level of tests/. Read from file names and
:mod:`ast` (nothing is imported):

- every test module mirrors a source module, except the few cross-cutting ones at the top level
  (``CROSS_CUTTING``);
- every source module with logic (a function or a method) has its test module, except those in
  ``UNTESTED``, each with the reason;
- neither list names what no longer needs naming;
- every folder of tests/ is a package (tests/__init__.py and one per folder), so test modules are named
  by their path and may share a file name (tests/graph/test_bench.py, tests/llm/test_bench.py);
- the ``trains`` tier's guard (tests/conftest.py) knows the fixtures that train, and reports a test that
  uses one unmarked.

The same functions run on planted cases (``test_the_checks_catch_what_they_look_for``,
``test_the_trains_guard_catches_an_unmarked_test``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import TRAINING_FIXTURES, unmarked_training_tests

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "obliviate"
TESTS = ROOT / "tests"

# Top-level test modules that test the program across modules: why each has no source module of its own.
CROSS_CUTTING = {
    "test_bad_inputs.py": "every bad input to every command (the table of bad_inputs_cases.py)",
    "test_layers.py": "the import layers of the whole package",
    "test_layout.py": "this file: the test tree mirrors the source",
    "test_readme.py": "the README and the tour agree with the code",
    "test_run_folders.py": "run folders across commands: no data loss, resume, escaped bench reports",
}

# Source modules with logic but no test module of their own: where they are tested instead, or that they are not.
UNTESTED = {
    "api.py": "the facade: its demo flow runs end to end in tests/test_cli.py, its configs in test_bad_inputs.py",
    "core/cliutil.py": "one-line CLI errors, asserted for every command by tests/test_bad_inputs.py",
    "graph/methods/grad_ascent.py": "run by the graph-method contract (graph/methods/test_base.py)",
    "graph/methods/retrain.py": "run by the graph-method contract (graph/methods/test_base.py)",
    "llm/data/formats/fields.py": "the record builders of every format, tested through llm/data/formats/",
    "llm/data/world_files.py": "save_world, read back by llm/data/test_splits.py and test_probes.py",
    "llm/encoding.py": "prompts and batches, under every LLM test; no test of its own",
    "llm/eval/metrics/base.py": "MetricContext and the compat check, used by every metric test",
    "llm/eval/suppression.py": "the refusal filter, run by llm/test_audit.py",
    "llm/methods/grad_ascent.py": "run by the method contract (llm/methods/test_base.py)",
    "llm/methods/grad_diff.py": "run by the method contract (llm/methods/test_base.py)",
    "llm/methods/kl.py": "its retain term checked in llm/methods/test_idk_po.py; the method contract",
    "llm/methods/wga.py": "its loss checked by hand in llm/methods/test_satimp.py; the method contract",
    "smarl/__init__.py": "lazy re-exports (a module __getattr__)",
    "smarl/report.py": "written end to end by smarl/test_cli.py; no unit test",
    "train/checkpoint.py": "saved and loaded by the resume tests of train/test_trainer.py",
    "vision/metrics.py": "measured in every vision test; no test of its own",
}


def has_logic(path: Path) -> bool:
    """A function or method anywhere in the module (re-exports, constants and pure data classes have none)."""
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(ast.parse(path.read_text())))


def source_modules(src: Path) -> dict[str, bool]:
    """Every module under ``src``, by path relative to it, and whether it has logic."""
    return {p.relative_to(src).as_posix(): has_logic(p) for p in sorted(src.rglob("*.py"))}


def found_test_modules(tests: Path) -> list[str]:
    """Every test module under ``tests``, by path relative to it."""
    return [p.relative_to(tests).as_posix() for p in sorted(tests.rglob("test_*.py"))]


def mirrored(test_module: str) -> str:
    """``llm/methods/test_flat.py`` -> ``llm/methods/flat.py``."""
    folder, _, name = test_module.rpartition("/")
    return (folder + "/" if folder else "") + name.removeprefix("test_")


def mirror_of(module: str) -> str:
    """``llm/methods/flat.py`` -> ``llm/methods/test_flat.py``."""
    folder, _, name = module.rpartition("/")
    return (folder + "/" if folder else "") + "test_" + name


def stray_test_modules(src: Path, tests: Path, cross_cutting=CROSS_CUTTING) -> list[str]:
    """Test modules that mirror no source module and are not cross-cutting ones at the top level."""
    modules = source_modules(src)
    return [t for t in found_test_modules(tests) if mirrored(t) not in modules and t not in cross_cutting]


def untested_source_modules(src: Path, tests: Path, untested=UNTESTED) -> list[str]:
    """Source modules with logic that have no test module and are not in ``untested``."""
    have = {mirrored(t) for t in found_test_modules(tests)}
    return [m for m, logic in source_modules(src).items() if logic and m not in have and m not in untested]


def stale_entries(src: Path, tests: Path, cross_cutting=CROSS_CUTTING, untested=UNTESTED) -> list[str]:
    """Names the lists no longer need: an untested module that is gone, has no logic or now has its test
    module; a cross-cutting module that is gone or mirrors a source module."""
    modules, have = source_modules(src), set(found_test_modules(tests))
    out = [f"UNTESTED {m}" for m in untested if not modules.get(m) or mirror_of(m) in have]
    out += [f"CROSS_CUTTING {t}" for t in cross_cutting if t not in have or mirrored(t) in modules]
    return out


def folders_without_init(tests: Path) -> list[str]:
    """Folders of ``tests`` holding Python files but no ``__init__.py``."""
    folders = {p.parent for p in tests.rglob("*.py") if "__pycache__" not in p.parts}
    return sorted(f.relative_to(tests).as_posix() or "." for f in folders if not (f / "__init__.py").is_file())


def test_every_test_module_mirrors_a_source_module():
    assert stray_test_modules(SRC, TESTS) == []


def test_every_source_module_with_logic_has_a_test_module():
    assert untested_source_modules(SRC, TESTS) == []


def test_the_lists_name_only_what_needs_naming():
    assert stale_entries(SRC, TESTS) == []
    assert all(reason.strip() for reason in [*CROSS_CUTTING.values(), *UNTESTED.values()])


def test_every_test_folder_is_a_package():
    assert folders_without_init(TESTS) == []


def test_the_checks_catch_what_they_look_for(tmp_path):
    """Not vacuous: on a planted tree each check reports exactly what was planted."""
    src, tests = tmp_path / "src", tmp_path / "tests"
    files = {
        src / "a.py": "def f():\n    return 1\n",  # tested
        src / "b.py": "def f():\n    return 1\n",  # untested, listed
        src / "c.py": "class C:\n    def m(self):\n        return 1\n",  # untested, not listed: reported
        src / "consts.py": "X = 1\n",  # no logic: needs no test
        src / "pkg" / "__init__.py": "from pkg.d import f\n",  # re-exports: no logic
        src / "pkg" / "d.py": "async def f():\n    return 1\n",  # tested
        src / "pkg" / "e.py": "def f():\n    return 1\n",  # listed as untested, yet tested: stale
        tests / "__init__.py": "",
        tests / "test_a.py": "",
        tests / "test_whole.py": "",  # cross-cutting, listed
        tests / "test_consts.py": "",  # mirrors consts.py: fine, though consts.py needs no test
        tests / "test_gone.py": "",  # mirrors nothing: stray
        tests / "pkg" / "test_d.py": "",  # no pkg/__init__.py here
        tests / "pkg" / "test_e.py": "",
        tests / "pkg" / "helpers.py": "",  # not a test module
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    cross = {"test_whole.py": "the whole program", "test_a.py": "listed, but mirrors a.py", "test_x.py": "gone"}
    untested = {"b.py": "listed", "consts.py": "no logic", "pkg/e.py": "has a test", "gone.py": "gone"}
    assert stray_test_modules(src, tests, cross) == ["test_gone.py"]
    assert untested_source_modules(src, tests, untested) == ["c.py"]
    assert stale_entries(src, tests, cross, untested) == [
        "UNTESTED consts.py", "UNTESTED pkg/e.py", "UNTESTED gone.py", "CROSS_CUTTING test_a.py",
        "CROSS_CUTTING test_x.py"]
    assert folders_without_init(tests) == ["pkg"]
    assert mirrored("test_cli.py") == "cli.py" and mirrored("llm/methods/test_flat.py") == "llm/methods/flat.py"
    assert mirror_of("cli.py") == "test_cli.py" and mirror_of("llm/methods/flat.py") == "llm/methods/test_flat.py"


def conftest_fixtures(tests: Path) -> set[str]:
    """The names of the fixtures defined in the conftest.py files under ``tests``."""
    names = set()
    for path in tests.rglob("conftest.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            for d in getattr(node, "decorator_list", []):
                call = d if isinstance(d, ast.Call) else None
                if ast.unparse(call.func if call else d) == "pytest.fixture":
                    named = [k.value.value for k in (call.keywords if call else []) if k.arg == "name"]
                    names.add(named[0] if named else node.name)
    return names


def test_the_trains_guard_catches_an_unmarked_test():
    assert TRAINING_FIXTURES <= conftest_fixtures(TESTS)  # each name the guard knows is a fixture that exists

    class Item:  # what the guard reads of a collected test
        def __init__(self, nodeid, fixturenames, marks=()):
            self.nodeid, self.fixturenames, self.marks = nodeid, fixturenames, marks

        def get_closest_marker(self, name):
            return name if name in self.marks else None

    items = [Item("unmarked", ["splits", "tiny_target"]), Item("marked", ["fresh_target"], ["trains"]),
             Item("no-training", ["tmp_path", "splits"]), Item("slow-only", ["original"], ["slow"])]
    assert unmarked_training_tests(items) == ["unmarked", "slow-only"]
