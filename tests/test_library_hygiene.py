"""recsys is a library: no streamlit, and importing it does nothing."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import recsys

ROOT = Path(recsys.__file__).parent


def test_recsys_never_imports_streamlit():
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        assert "import streamlit" not in text and "from streamlit" not in text, path


def test_import_has_no_side_effects(tmp_path):
    modules = [m.name for m in pkgutil.walk_packages([str(ROOT)], "recsys.")
               if m.name != "recsys.__main__"]
    code = (
        "import os, sys, random, numpy as np\n"
        "before = (random.getstate(), np.random.get_state()[1].tolist())\n"
        f"import importlib\nfor m in {modules!r}: importlib.import_module(m)\n"
        "after = (random.getstate(), np.random.get_state()[1].tolist())\n"
        "assert before == after, 'an import touched the global random state'\n"
        "assert 'streamlit' not in sys.modules\n"
        "assert os.listdir('.') == [], os.listdir('.')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT.parent), "PATH": "/usr/bin"})
    assert proc.returncode == 0, proc.stderr


def test_light_entry_points_do_not_load_heavy_libraries(tmp_path):
    """The registry, data layer and harness load torch/gensim/umap only when a model needs it."""
    code = ("import sys, recsys, recsys.data, recsys.models, recsys.evaluate, recsys.cli\n"
            "heavy = [m for m in ('streamlit', 'torch', 'gensim', 'umap') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT.parent), "PATH": "/usr/bin"})
    assert proc.returncode == 0, proc.stderr


def _runtime_imports(tree: ast.AST):
    """Import nodes that run (those under ``if TYPE_CHECKING:`` do not)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """recsys module -> the recsys modules it imports, at any depth (function bodies too)."""
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def test_no_import_cycles():
    graph = import_graph()
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail + [node, nxt]))
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_data_layer_knows_nothing_above_it():
    """Importing data, the workspace never comes in: keys and paths are passed down (the
    key, settings and error-wording modules, leaves with no imports of their own, are all it
    may use besides itself)."""
    graph = import_graph()
    leaves = {"recsys.keys", "recsys.settings", "recsys.errors"}
    assert all(graph[leaf] == set() for leaf in leaves)
    for name, edges in graph.items():
        if name.startswith("recsys.data"):
            assert all(e.startswith("recsys.data") or e in leaves for e in edges), (
                name, edges)
