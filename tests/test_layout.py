"""The house plan holds: one package per stage, no import circles, no flat stage modules.

Imports are read from the source with ``ast`` (module level AND inside functions: a deferred
import is still a dependency, and it is how the config <-> generation circle hid).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1] / "ssdlib"

# Flat modules allowed beside the packages: infrastructure every stage shares (running notebooks,
# configuration, the figure/table style, schemas), never a stage's own logic.
INFRASTRUCTURE = {
    "__init__",
    "__main__",
    "cli",
    "config",
    "runs",
    "files",
    "plan",
    "doctor",
    "report",
    "logs",
    "progress",
    "failures",
    "nbparams",
    "plots",
    "tables",
    "schema",
    "models",
    "prompts",
    "yamlsafe",
    "boxed",
    "hardware",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("ssdlib")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("ssdlib"):
                continue
            subs = {f"{mod}.{a.name}" for a in node.names}
            # `from ssdlib.pkg import module` depends on that module; it needs pkg/__init__ only
            # when it also takes a name defined there
            out |= subs & modules
            if subs - modules:
                out.add(mod)
    return out


def import_graph() -> nx.DiGraph:
    """Module -> module edges inside ssdlib (names that are not modules are dropped)."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    g = nx.DiGraph()
    g.add_nodes_from(files)
    for name, path in files.items():
        for dep in _imports(path, name, set(files)):
            if dep in files and dep != name:
                g.add_edge(name, dep)
    return g


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_no_import_circles_between_modules():
    g = import_graph()
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import circles: {cycles[:5]}"


def test_no_import_circles_between_stages():
    """Collapse modules to their stage (top-level package or flat module): the stages form a
    DAG, so there is an order in which nothing imports upward."""
    g = import_graph()
    s = nx.DiGraph()
    for a, b in g.edges:
        if stage_of(a) != stage_of(b):
            s.add_edge(stage_of(a), stage_of(b))
    cycles = list(nx.simple_cycles(s))
    assert not cycles, f"stage circles (something imports upward): {cycles[:5]}"


def test_no_flat_stage_modules():
    flat = {p.stem for p in ROOT.glob("*.py")}
    assert flat <= INFRASTRUCTURE, (
        f"stage logic outside its package: {sorted(flat - INFRASTRUCTURE)}"
    )


def test_the_checker_sees_a_circle(tmp_path, monkeypatch):
    """The graph would catch a deferred import circle (the kind config <-> decode had)."""
    pkg = tmp_path / "ssdlib"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("def f():\n    from ssdlib.b import y\n")
    (pkg / "b.py").write_text("from ssdlib.a.x import f\ny = 1\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", pkg)
    g = import_graph()
    assert ("ssdlib.a.x", "ssdlib.b") in g.edges and ("ssdlib.b", "ssdlib.a.x") in g.edges
    assert list(nx.simple_cycles(g))
