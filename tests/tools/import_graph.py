"""The import graph of the ``cherrypy_rs`` package, from its source (no import runs).

    python tests/tools/import_graph.py      # prints import circles and unexplained
                                            # imports inside functions; exit 1 if any

Edges are the imports a module runs when it is imported (module level, outside
``if TYPE_CHECKING:``). An import inside a function is allowed only with a comment
on the line above saying why ("# Lazy: ..." or "# Optional: ..."), e.g. to keep a
module free of the Rust core, or for an optional dependency.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "cherrypy_rs"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(current: str, is_package: bool, node: ast.AST, known: set[str]) -> list[str]:
    """The package modules an import statement loads."""
    found: list[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == PACKAGE:
                found.append(alias.name)
    elif isinstance(node, ast.ImportFrom):
        base = _resolve(current, is_package, node)
        if base.split(".")[0] != PACKAGE:
            return []
        found.append(base)
        for alias in node.names:
            if f"{base}.{alias.name}" in known:
                found.append(f"{base}.{alias.name}")
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run at import: the body, and the branches of if/try blocks."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                out += _module_level(node.body) + _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            out += _module_level(node.body)
            for handler in node.handlers:
                out += _module_level(handler.body)
            out += _module_level(node.orelse) + _module_level(node.finalbody)
        else:
            out.append(node)
    return out


def graph() -> tuple[dict[str, set[str]], list[str]]:
    """(edges between package modules, unexplained imports inside functions)."""
    mods = modules()
    known = set(mods)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    unexplained: list[str] = []
    for name, path in mods.items():
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        is_package = path.name == "__init__.py"
        top = {id(n) for n in _module_level(tree.body)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if id(node) in top:
                for target in _targets(name, is_package, node, known):
                    # Importing a submodule first imports its parent packages; the
                    # importer's own ancestors are already being imported (no edge).
                    parts = target.split(".")
                    for i in range(1, len(parts) + 1):
                        parent = ".".join(parts[:i])
                        if parent in known and parent != name and not _ancestor(parent, name):
                            edges[name].add(parent)
                continue
            if _inside_type_checking(tree, node):
                continue
            above = " ".join(lines[max(0, node.lineno - 3) : node.lineno - 1])
            if "# Lazy:" not in above and "# Optional:" not in above:
                unexplained.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    return edges, unexplained


def _ancestor(package: str, module: str) -> bool:
    return module.startswith(package + ".")


def _inside_type_checking(tree: ast.Module, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            if any(child is target for child in ast.walk(node)):
                return True
    return False


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    edges, unexplained = graph()
    circles = cycles(edges)
    for circle in circles:
        print("import circle:", " -> ".join(circle))
    for where in unexplained:
        print("import inside a function without a '# Lazy:'/'# Optional:' reason:", where)
    if not circles and not unexplained:
        print(f"{len(edges)} modules, no import circle")
    return 1 if circles or unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
