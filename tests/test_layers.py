"""The house plan holds: the code imports downwards only, in the order the data flows, and has no import cycle.

Every import of the project's own modules is read from the source (at the top of a file or inside a function
alike), so a link hidden in a function counts too.  The layers are listed once, here and in
docs/architecture.md; a module that belongs to none fails the test, so a new room must be placed on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "validations", "pipelines", "assets")

# bottom first; a module may import its own layer or one below.  The longest matching prefix places a module.
LAYERS = [
    ["schemas"],
    ["validations"],
    ["pipelines.settings", "pipelines.progress", "pipelines.faults", "pipelines.table"],
    ["pipelines.intake"],
    ["pipelines.read"],
    ["pipelines.load"],
    ["pipelines.steward"],
    ["pipelines.report"],
    ["pipelines.sample"],
    ["pipelines.stages"],
    ["pipelines.portal"],
    ["assets"],
    ["pipelines.cli", "schemas.migrations.env"],  # entry points: the ccn command, Alembic's own command line
]


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name != "__init__.py":  # the packages' __init__ files are empty
                out[".".join(path.relative_to(ROOT).with_suffix("").parts)] = path
    return out


MODULES = _modules()


def _layer(module: str) -> int:
    best, depth = None, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and prefix.count(".") > depth:
                best, depth = i, prefix.count(".")
    if best is None:
        raise AssertionError(f"{module} is in no layer of tests/test_layers.py LAYERS")
    return best


def _imports(module: str, path: Path) -> set[str]:
    """The project modules ``module`` imports (``from pipelines.read import workbook`` names the submodule)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]  # noqa: PLW2901 - up to the module the tree has
            if name and name != module:
                found.add(name)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down(module):
    up = sorted(f"{module} (layer {_layer(module)}) imports {other} (layer {_layer(other)})"
                for other in GRAPH[module] if _layer(other) > _layer(module))
    assert not up, "\n".join(up)


def test_no_import_cycle():
    """Tarjan's strongly connected components over the module graph: every component is one module."""
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_the_graph_is_read():
    """The reader of imports sees real links (a broken parser would pass the tests above vacuously)."""
    assert "schemas.tables" in GRAPH["pipelines.load.ingest"]
    assert "pipelines.read.workbook" in GRAPH["pipelines.load.ingest"]
    assert "assets.definitions" in GRAPH["pipelines.cli"]  # an import inside a function counts
    assert sum(len(v) for v in GRAPH.values()) > 150


# the libraries only the wiring may import: the domain code stays plain Python, tested on its own
WIRING = {"dagster": ("assets", "pipelines.cli"), "starlette": ("pipelines.portal",), "uvicorn": ("pipelines.cli",),
          "jinja2": ("pipelines.portal",), "multipart": ("pipelines.portal",)}


def _third_party(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_wiring_imports_dagster_and_the_web():
    wrong = sorted(f"{module} imports {lib}" for module, path in MODULES.items() for lib in _third_party(path)
                   if lib in WIRING and not any(module == p or module.startswith(p + ".") for p in WIRING[lib]))
    assert not wrong, "\n".join(wrong)
    assert "starlette" in _third_party(ROOT / "pipelines" / "portal" / "app.py")  # the reader sees them
