"""The package's import graph: no cycle, no import from a lower layer to a higher one, no huge module.

Layers, top to bottom: ``cli`` -> ``rewrite`` / ``surgery`` / ``summary`` / ``validate`` / ``nvidia`` /
``draw`` / ``diff`` -> ``graph`` -> ``formats`` -> ``_proto`` / ``errors``. A module may import its own
layer or any layer below.
Imports are read with ``ast`` (module level and inside functions, ``TYPE_CHECKING`` blocks too), so
a function-level import cannot hide a cycle. Lazy imports of third-party modules are not looked at.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "graphsurgeon"

# The layer of each top-level part of the package; a higher number is a higher layer.
LAYERS = {
    "_proto": 0, "errors": 0, "_vendor": 0,  # _vendor: data files only (Viz.js for gs draw)
    "formats": 1,
    "graph": 2,
    "rewrite": 3, "surgery": 3, "summary": 3, "validate": 3, "values": 3, "comparison": 3, "nvidia": 3,
    "draw": 3, "diff": 3,
    "cli": 4, "__main__": 4,
    "__init__": 5,  # the package's public API re-exports every layer
}

MAX_LINES = 700
# Modules over MAX_LINES, each with the reason it stays (none today).
OVERSIZED: dict[str, str] = {}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return LAYERS["__init__"]
    return LAYERS[parts[1]]


def _imports(module: str, path: pathlib.Path, known: set[str]) -> set[str]:
    """The package modules that ``module`` imports anywhere in its body."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if not name.startswith("graphsurgeon"):
                continue
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    # importing a.b.c runs a/__init__ and a/b/__init__ first; those are empty here, so ignore them
    for name in graph:
        graph[name] = {m for m in graph[name] if m != "graphsurgeon" or _layer(name) == LAYERS["__init__"]}
    return graph


def test_every_part_of_the_package_has_a_layer() -> None:
    for name in _modules():
        parts = name.split(".")
        assert len(parts) == 1 or parts[1] in LAYERS, f"{name}: add its part to LAYERS in {__file__}"


def test_no_import_runs_upward() -> None:
    upward = sorted(f"{a} -> {b}" for a, targets in _graph().items() for b in targets if _layer(b) > _layer(a))
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_cycles_and_upward_imports(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks above can fail: a fake package with a cycle hidden in a function and an upward import."""
    fake = tmp_path / "graphsurgeon"
    (fake / "formats").mkdir(parents=True)
    (fake / "graph").mkdir()
    for init in (fake / "__init__.py", fake / "formats" / "__init__.py", fake / "graph" / "__init__.py"):
        init.write_text("")
    (fake / "formats" / "a.py").write_text("def f():\n    from graphsurgeon.graph import b\n")
    (fake / "graph" / "b.py").write_text("from graphsurgeon.formats import a\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    with pytest.raises(AssertionError, match="graphsurgeon.formats.a -> graphsurgeon.graph.b"):
        test_no_import_runs_upward()
    with pytest.raises(AssertionError, match="graphsurgeon.formats.a <-> graphsurgeon.graph.b"):
        test_no_import_cycle()


def test_no_module_is_huge() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()
             if "._proto" not in name}
    over = sorted(f"{name}: {n} lines" for name, n in sizes.items() if n > MAX_LINES and name not in OVERSIZED)
    assert not over, f"modules over {MAX_LINES} lines (split them by job):\n" + "\n".join(over)
    stale = sorted(name for name in OVERSIZED if sizes.get(name, 0) <= MAX_LINES)
    assert not stale, f"no longer over {MAX_LINES} lines, drop from OVERSIZED: {stale}"


def test_cited_documents_are_in_the_repository() -> None:
    """Comments and docstrings may cite only documents that ship with the repository."""
    root = PACKAGE.parent
    missing = sorted({f"{path.relative_to(root)}: {doc}" for path in PACKAGE.rglob("*.py")
                      for doc in re.findall(r"[\w./-]*\b[\w-]+\.md\b", path.read_text())
                      if not (root / doc).is_file()})
    assert not missing, "documents cited but not in the repository:\n" + "\n".join(missing)
