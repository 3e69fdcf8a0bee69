"""The import graph of the emulator package points one way (shared/design.md's layers).

Every import counts, module-level or inside a function: a function-level import is still an arrow, only a late
one. `from pkg import name` is an arrow to pkg.name when that is a module, else to pkg.
"""
from __future__ import annotations

import ast
from pathlib import Path

import cloud
import emulator

# the emulator and the submission side (cloud/: quickstart, demo); each is checked for cycles
ROOTS = {"emulator": Path(emulator.__file__).parent, "cloud": Path(cloud.__file__).parent}


def _module_name(top: str, path: Path) -> str:
    parts = [top, *path.relative_to(ROOTS[top]).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(top, p): p for top, root in ROOTS.items() for p in root.rglob("*.py")}


def _imports(name: str, path: Path) -> set[str]:
    """The modules `name` imports (external ones by their top-level name)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in MODULES else target)
    return {m if m.split(".")[0] in ROOTS else m.split(".")[0] for m in out}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _arrows(src_prefix: str, dst_prefix: str) -> list[str]:
    return sorted(f"{src} -> {dst}" for src, dsts in GRAPH.items() if src == src_prefix or
                  src.startswith(src_prefix + ".") for dst in dsts if dst == dst_prefix or
                  dst.startswith(dst_prefix + "."))


def test_the_graph_was_read():
    # a parser that finds nothing would pass every rule below
    assert "emulator.backend.batchai" in GRAPH["emulator.api.jobs"] or "emulator.backend" in str(GRAPH)
    assert "emulator.runner.states" in GRAPH["emulator.runner.scheduler"]
    assert "flask" in GRAPH["emulator.api.dispatch"]
    assert "cloud.demo" in GRAPH["cloud.__main__"]


def test_runner_sits_below_the_backend():
    assert _arrows("emulator.runner", "emulator.backend") == []


def test_backend_knows_only_the_store_protocol():
    assert _arrows("emulator.backend", "emulator.store.sqlite") == []


def test_backend_does_not_speak_http():
    assert _arrows("emulator.backend", "flask") == []
    assert _arrows("emulator.backend", "werkzeug") == []


def test_views_do_not_touch_the_store():
    assert _arrows("emulator.api", "emulator.store") == []


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), among the emulator's own modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in GRAPH:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in GRAPH[v]:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


# Cycles that arrived with work merged while this test was written; each is to be broken by its owner, and the
# list only shrinks: a cycle not listed here fails the test.
KNOWN_CYCLES = [
]


def test_no_import_cycles():
    assert [c for c in _cycles() if set(c) not in KNOWN_CYCLES] == []
