"""The package's layers: no import cycles, no import from a higher layer, no domain importing another.

Layers, lowest first (a module imports only from its own layer or below):

0. ``obliviate.core``: run folders, configs, errors, progress, statistics shared by every domain.
1. ``obliviate.models``, ``obliviate.train``: loading models; the one training loop.
2. The domains ``obliviate.llm``, ``obliviate.graph``, ``obliviate.vision``, ``obliviate.smarl``: each on its
   own (a domain never imports another).
3. ``obliviate.api``: the Python facade (re-exports and the top-level flows).
4. ``obliviate.cli``: parses, validates, calls, prints.

Every ``import`` counts, the ones inside functions too: an import moved into a function hides a cycle from
Python, not from the design. Read from the source with :mod:`ast` (nothing is imported).
Cross-cutting (the whole package), so at the top level of tests/ (tests/test_layout.py lists it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = {"core": 0, "models": 1, "train": 1, "llm": 2, "graph": 2, "vision": 2, "smarl": 2, "api": 3, "cli": 4}
DOMAINS = {"llm", "graph", "vision", "smarl"}


def modules() -> dict[str, Path]:
    out = {}
    for f in sorted((SRC / "obliviate").rglob("*.py")):
        parts = list(f.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules ``name`` imports (at any depth of its code), resolved to modules that exist."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # "obliviate.core.errors.ConfigError" -> "obliviate.core.errors"
                t = t.rpartition(".")[0]
            if t.startswith("obliviate") and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def part(module: str) -> str:
    """``obliviate.llm.eval.suite`` -> ``llm``; ``obliviate.api`` -> ``api``; ``obliviate`` -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in g:
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def back_edges(g: dict[str, set[str]]) -> list[str]:
    bad = []
    for a, targets in g.items():
        for b in targets:
            la, lb = part(a), part(b)
            if la == lb or not la or not lb:  # within one part, or the package's own __init__
                continue
            if LAYERS[lb] > LAYERS[la] or (la in DOMAINS and lb in DOMAINS):
                bad.append(f"{a} -> {b}")
    return sorted(bad)


def test_every_part_has_a_layer():
    assert {part(m) for m in modules()} - {""} == set(LAYERS)


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_no_import_from_a_higher_layer_or_another_domain():
    assert back_edges(graph()) == []


@pytest.mark.parametrize("g, found", [
    ({"obliviate.llm.a": {"obliviate.llm.b"}, "obliviate.llm.b": {"obliviate.llm.a"}}, "cycle"),
    ({"obliviate.llm.a": {"obliviate.api"}, "obliviate.api": set()}, "back"),
    ({"obliviate.graph.a": {"obliviate.llm.b"}, "obliviate.llm.b": set()}, "back"),
    ({"obliviate.core.a": {"obliviate.train.t"}, "obliviate.train.t": set()}, "back"),
    ({"obliviate.cli": {"obliviate.api"}, "obliviate.api": {"obliviate.llm.a"}, "obliviate.llm.a": set()}, None),
])
def test_the_checks_catch_what_they_look_for(g, found):
    """The checks are not vacuous: a planted cycle or back-edge is reported, a clean graph is not."""
    assert bool(cycles(g)) == (found == "cycle")
    assert bool(back_edges(g)) == (found == "back")


def test_the_reader_sees_imports_inside_functions(tmp_path):
    pkg = tmp_path / "obliviate" / "llm"
    pkg.mkdir(parents=True)
    f = pkg / "x.py"
    f.write_text("def f():\n    from obliviate import api\n    from . import y\n")
    known = {"obliviate.llm.x": f, "obliviate.api": f, "obliviate.llm.y": f, "obliviate.llm": f}
    assert imports("obliviate.llm.x", f, known) == {"obliviate.api", "obliviate.llm.y"}


# ---------------------------------------------------------------- imports inside functions
# An import goes inside a function only to defer a heavy dependency (a module that takes long to load, or that a
# command may never need), said in a "# deferred: ..." comment on it or just above its block; or inside
# ``try``/``except ImportError`` for an optional one. Anything else belongs at the top of the module.
HEAVY = {"torch", "transformers", "peft", "accelerate", "torch_geometric", "lm_eval", "matplotlib", "scipy", "sklearn",
         "datasets", "pyarrow", "safetensors", "rich", "jinja2", "yaml", "numpy", "sparsify", "rouge_score",
         "huggingface_hub", "tokenizers", "filelock", "gguf", "bitsandbytes", "resource"}


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]


def _project(t: str, known: dict[str, Path]) -> str | None:
    while t and t not in known:
        t = t.rpartition(".")[0]
    return t or None


def _top_level(path: Path, known: dict[str, Path]) -> tuple[set[str], set[str]]:
    """(project modules, heavy third-party packages) a module imports when it is itself imported."""
    mods, heavy = set(), set()
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def visit(body):
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for t in _targets(node):
                    m = _project(t, known)
                    if m:
                        mods.add(m)
                    elif t.split(".")[0] in HEAVY:
                        heavy.add(t.split(".")[0])
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body)

    visit(tree.body)
    return mods, heavy


def heavy_loads(known: dict[str, Path]) -> dict[str, frozenset[str]]:
    """The heavy packages importing each module loads (its top-level imports, transitively, packages' __init__
    included)."""
    tops = {name: _top_level(path, known) for name, path in known.items()}

    def loads(name: str) -> frozenset[str]:
        reached, todo = {name}, [name]
        while todo:  # every module that importing ``name`` runs (breadth first; packages' __init__ included)
            m = todo.pop()
            parents = {".".join(m.split(".")[:i]) for i in range(1, m.count(".") + 1)}
            for nxt in (tops[m][0] | parents) & set(known):
                if nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
        return frozenset(h for m in reached for h in tops[m][1])

    return {name: loads(name) for name in known}


def _misplaced_in(name: str, path: Path, loads: dict[str, frozenset[str]], known: dict[str, Path]) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    shown = path.relative_to(SRC) if path.is_relative_to(SRC) else path.name
    optional: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                "ImportError" in ast.unparse(h.type or ast.Name("BaseException")) for h in node.handlers):
            optional |= {n.lineno for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
    bad: list[str] = []

    def check(body: list, in_function: bool) -> None:
        first = None  # the first import of the current block: a comment above it covers the block
        for node in body:
            if in_function and isinstance(node, (ast.Import, ast.ImportFrom)) and node.lineno not in optional:
                first = first or node
                new = set()
                for t in _targets(node):
                    m = _project(t, known)
                    new |= loads[m] if m else ({t.split(".")[0]} & HEAVY)
                new -= loads[name]
                where = f"{shown}:{node.lineno} {ast.unparse(node)}"
                if not new:
                    bad.append(f"{where}: defers nothing heavy (move it to the top)")
                elif "# deferred" not in "\n".join(lines[first.lineno - 2: node.end_lineno]):
                    bad.append(f"{where}: defers {', '.join(sorted(new))}; say so in a '# deferred:' comment")
            else:
                first = None
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    check(inner, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))

    check(tree.body, False)
    return bad


def misplaced_imports(files: dict[str, Path], known: dict[str, Path]) -> list[str]:
    """Imports inside functions that defer nothing heavy, or defer without a ``# deferred`` comment."""
    loads = heavy_loads(known)
    return [line for name, path in files.items() for line in _misplaced_in(name, path, loads, known)]


def test_imports_inside_functions_only_defer_heavy_dependencies():
    known = modules()
    assert misplaced_imports(known, known) == []


def test_misplaced_import_check_is_not_vacuous(tmp_path):
    known = modules()
    f = tmp_path / "planted.py"
    f.write_text("import torch\n\n\ndef light():\n    import json\n    from obliviate.core import errors\n\n\n"
                 "def heavy():\n    from transformers import AutoModel\n\n\n"
                 "def said():\n    # deferred: loads transformers\n    from transformers import AutoModel\n"
                 "    import scipy\n\n\n"
                 "def optional():\n    try:\n        import sparsify\n    except ImportError:\n        pass\n")
    found = misplaced_imports({"obliviate.planted": f}, {**known, "obliviate.planted": f})
    assert [line.split(" ", 1)[1].split(":")[0] for line in found] == [
        "import json", "from obliviate.core import errors", "from transformers import AutoModel"]
