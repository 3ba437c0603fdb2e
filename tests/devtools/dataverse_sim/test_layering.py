"""No module of the simulator imports one that imports it back: every import counts, including those under
TYPE_CHECKING and inside functions, so a cycle cannot hide."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "devtools.dataverse_sim"
ROOT = Path(__file__).resolve().parents[3] / "devtools" / "dataverse_sim"


def imports_of(path: Path) -> set[str]:
    """Package modules imported anywhere in the file (absolute or relative, any nesting)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = f"{PACKAGE}.{base}".rstrip(".")
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith(f"{PACKAGE}.") and (ROOT / f"{name.rsplit('.', 1)[-1]}.py").exists():
                found.add(name.rsplit(".", 1)[-1])
    return found


def graph() -> dict[str, set[str]]:
    modules = {path.stem: path for path in ROOT.glob("*.py") if path.stem not in ("__init__", "__main__")}
    return {name: imports_of(path) - {name} for name, path in modules.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_module_graph_has_no_cycle() -> None:
    edges = graph()
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges) or [])}"


def test_the_server_and_admin_know_the_simulator_only_through_protocols() -> None:
    edges = graph()
    assert (
        "simulator" not in edges["server"] and "admin" not in edges["server"] and "api" not in edges["server"]
    )
    assert "simulator" not in edges["admin"] and "server" not in edges["admin"]
    assert "simulator" not in edges["demo"] and "simulator" not in edges["api"]
    assert "server" not in edges["store"] and "query" in edges["store"]


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
