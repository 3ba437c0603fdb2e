"""No import cycle anywhere in the app: module-level and function-level imports alike.

A function-level import hides a cycle from the interpreter until the function runs, and an import
under `if TYPE_CHECKING:` is one a refactor turns into a real import; both count here. Every .py
under the app's folders is parsed with `ast` (never imported), each import resolved to the
deepest module of the repo it names (`from a import b` is `a.b` when that is a module), and the
graph's strongly connected components are the cycles. devtools/, ops/ and bench/ are read the same
way and held to the same rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = (
    "function_app.py",
    "shared",
    "handoff_trigger",
    "retry_queue",
    "status_api",
    "messaging_webhook",
    "relay_queue",
)
TOOLS = ("devtools", "ops", "bench")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_under(folders: Iterable[str], root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in folders:
        path = root / folder
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            found[module_name(file, root)] = file
    return found


def _resolve(name: str, known: set[str]) -> str | None:
    """The deepest known module `name` is or lies in; None for anything outside the repo."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """Every repo module `module` imports, wherever in the file the import statement sits."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b`: the module a.b when b is one, else a itself.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        for name in names:
            target = _resolve(name, known)
            if target and target != module:
                targets.add(target)
    return targets


def import_graph(folders: Iterable[str], among: Iterable[str] = (), root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the repo modules it imports, for the modules under `folders`. Edges to modules
    outside `folders` (e.g. a tool importing the app) are kept only to modules under `among`."""
    mine = modules_under(folders, root)
    known = set(mine) | set(modules_under(among, root))
    return {name: imports_of(name, path, known) & set(mine) for name, path in mine.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:  # recursion depth is bounded by the module count (~200)
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _explain(graph: dict[str, set[str]], found: list[list[str]]) -> str:
    lines = []
    for component in found:
        members = set(component)
        lines.append("cycle among: " + ", ".join(component))
        lines.extend(f"    {m} -> {sorted(graph[m] & members)}" for m in component)
    return "\n".join(lines)


def test_the_app_has_no_import_cycle():
    graph = import_graph(APP)
    assert len(graph) > 50, "the app's modules were not found"
    found = cycles(graph)
    assert found == [], _explain(graph, found)


def test_the_local_tools_have_no_import_cycle():
    graph = import_graph(TOOLS, among=APP)
    assert len(graph) > 50, "the tools' modules were not found"
    found = cycles(graph)
    assert found == [], _explain(graph, found)


def test_function_level_and_relative_imports_are_followed(tmp_path):
    """The reader can fail: a cycle closed only by an import inside a function is found."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("def later():\n    from . import c\n")
    (package / "c.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    import pkg.a\n")
    graph = import_graph(["pkg"], root=tmp_path)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.c"} and graph["pkg.c"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
