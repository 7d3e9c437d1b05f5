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
