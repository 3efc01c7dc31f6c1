"""The shape of the code, measured with ``ast``: what a newcomer meets.

    python tools/structure.py [--json out.json] [--top 15]

Per module of recsys/, ui/, pages/ and app.py: lines, imports inside functions, and private
reach-ins across modules -- a private name imported from another module
(``from recsys.tuning import _beats``), a private attribute of an imported module
(``tuning._beats``), or a private member of another object (``model._start()``; ``self.``
and ``cls.`` are the object's own business, and so is an object a classmethod makes of its
own class: ``m = cls(...)`` or ``m = super().load(...)``). Also: which tools import the
tests. Prints the totals and the modules with the most of each.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("recsys", "ui", "pages")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _project(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in PACKAGES


def _made_by_cls(tree: ast.AST) -> set[str]:
    """Names a classmethod binds to an object of its own class."""
    def by_cls(call: ast.AST) -> bool:
        if not isinstance(call, ast.Call):
            return False
        f = call.func
        return (isinstance(f, ast.Name) and f.id == "cls") or (
            isinstance(f, ast.Attribute) and isinstance(f.value, ast.Call)
            and getattr(f.value.func, "id", "") == "super")
    return {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and by_cls(n.value)
            for t in n.targets if isinstance(t, ast.Name)}


def scan(path: Path) -> dict:
    """One module's figures."""
    tree = ast.parse(path.read_text())
    reach, modules, others = [], set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name.split(".")[0] for a in node.names
                        if _project(a.name)}
            others |= {a.asname or a.name.split(".")[0] for a in node.names
                       if not _project(a.name)}
        elif isinstance(node, ast.ImportFrom) and _project(node.module):
            for a in node.names:
                if _private(a.name):
                    reach.append(f"from {node.module} import {a.name}")
                else:
                    modules.add(a.asname or a.name)  # maybe a module: checked below
    local = {n for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef,
                                                            ast.AsyncFunctionDef))
             for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))}
    ours = [n for n in local if _project(getattr(n, "module", None) if isinstance(
        n, ast.ImportFrom) else n.names[0].name)]
    own = {"self", "cls", *_made_by_cls(tree)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            if isinstance(base, ast.Name) and base.id in (own | others):
                continue
            if isinstance(base, ast.Name) and base.id in modules:
                reach.append(f"{base.id}.{node.attr}")
            elif not (isinstance(base, ast.Call) and getattr(base.func, "id", "") == "super"):
                reach.append(f"{ast.unparse(base)[:30]}.{node.attr}")
    return {"lines": len(path.read_text().splitlines()), "imports_in_functions": len(local),
            "project_imports_in_functions": len(ours), "private_reach_ins": reach}


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    files = [ROOT / "app.py"] + sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    mods = {str(p.relative_to(ROOT)): scan(p) for p in files}
    tools_tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tools").glob("*.py")
                         if any(isinstance(n, (ast.Import, ast.ImportFrom))
                                and ((getattr(n, "module", None) or "").startswith("tests")
                                     or any(a.name.startswith("tests") for a in n.names))
                                for n in ast.walk(ast.parse(p.read_text()))))
    out = {"modules": len(mods), "lines": sum(m["lines"] for m in mods.values()),
           "largest": max(mods, key=lambda k: mods[k]["lines"]),
           "imports_in_functions": sum(m["imports_in_functions"] for m in mods.values()),
           "project_imports_in_functions": sum(m["project_imports_in_functions"]
                                               for m in mods.values()),
           "private_reach_ins": sum(len(m["private_reach_ins"]) for m in mods.values()),
           "tools_importing_tests": tools_tests, "by_module": mods}
    print(f"{out['modules']} modules, {out['lines']:,} lines (largest {out['largest']}, "
          f"{mods[out['largest']]['lines']}); {out['imports_in_functions']} imports inside "
          f"functions ({out['project_imports_in_functions']} of the project's own, the rest "
          f"optional or heavy libraries loaded when used); {out['private_reach_ins']} private "
          f"reach-ins across modules; tools "
          f"importing tests: {', '.join(tools_tests) or 'none'}")
    for key, label in (("lines", "lines"), ("imports_in_functions", "imports in functions")):
        print(f"\nmost {label}:")
        for name in sorted(mods, key=lambda k: -mods[k][key])[:args.top]:
            print(f"  {mods[name][key]:5d}  {name}")
    print("\nprivate reach-ins:")
    for name, m in mods.items():
        if m["private_reach_ins"]:
            print(f"  {name}: {', '.join(sorted(set(m['private_reach_ins'])))}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
