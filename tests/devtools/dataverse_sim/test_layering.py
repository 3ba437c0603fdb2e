"""No module of the simulator imports one that imports it back: every import counts, including those under
TYPE_CHECKING and inside functions, so a cycle cannot hide. The same holds for devtools.simkit, the
plumbing the simulators share, which must import no simulator at all."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "devtools.dataverse_sim"
DEVTOOLS = Path(__file__).resolve().parents[3] / "devtools"
ROOT = DEVTOOLS / "dataverse_sim"
SIMKIT = "devtools.simkit"
SIMULATORS = ("devtools.dataverse_sim", "devtools.opencx_sim", "devtools.messaging_sim")


def imported_names(path: Path, package: str = PACKAGE) -> set[str]:
    """Every dotted name the file imports (relative imports resolved against `package`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = f"{package}.{base}".rstrip(".")
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(names)
    return found


def imports_of(path: Path, package: str = PACKAGE, root: Path = ROOT) -> set[str]:
    """Package modules imported anywhere in the file (absolute or relative, any nesting)."""
    return {
        name.rsplit(".", 1)[-1]
        for name in imported_names(path, package)
        if name.startswith(f"{package}.") and (root / f"{name.rsplit('.', 1)[-1]}.py").exists()
    }


def graph(package: str = PACKAGE, root: Path = ROOT) -> dict[str, set[str]]:
    modules = {path.stem: path for path in root.glob("*.py") if path.stem not in ("__init__", "__main__")}
    return {name: imports_of(path, package, root) - {name} for name, path in modules.items()}


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


def test_the_server_api_and_demo_never_import_the_simulator() -> None:
    """server.py reaches the simulator as `server.sim`, api.py through `ApiSettings`, demo.py as a
    `SeedTarget`: the simulator composes them and the arrows only point at it from outside."""
    edges = graph()
    assert "simulator" not in edges["server"] and "api" not in edges["server"]
    assert "simulator" not in edges["demo"] and "simulator" not in edges["api"]
    assert "server" not in edges["store"] and "schema" in edges["store"] and "odata" in edges["schema"]


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_simkit_has_no_cycle_and_imports_no_simulator() -> None:
    root = DEVTOOLS / "simkit"
    edges = graph(SIMKIT, root)
    assert {"server", "faults", "lifecycle", "cli"} <= set(edges), edges
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges) or [])}"
    for path in sorted(root.glob("*.py")):
        leaks = {n for n in imported_names(path, SIMKIT) if n.startswith(SIMULATORS)}
        assert not leaks, f"{path.name} imports a simulator: {sorted(leaks)}"


def test_the_simulators_build_on_simkit_without_it_importing_them_back() -> None:
    """dataverse_sim, opencx_sim and messaging_sim use simkit's server, faults and lifecycle (so the
    plumbing is not copied again), and nothing in simkit names them: the dependency only points one way."""
    for package in ("dataverse_sim", "opencx_sim", "messaging_sim"):
        used = set().union(
            *(imported_names(p, f"devtools.{package}") for p in (DEVTOOLS / package).glob("*.py"))
        )
        for module in ("server", "faults", "lifecycle"):
            assert any(name.startswith(f"{SIMKIT}.{module}") for name in used), (package, module)


def test_the_messaging_simulator_borrows_nothing_from_another_simulator() -> None:
    """messaging_sim once took its plumbing (server, Reply, body errors) from dataverse_sim; what it shares
    now comes from simkit only, and its fault rules stand on simkit's alone."""
    package, root = "devtools.messaging_sim", DEVTOOLS / "messaging_sim"
    others = tuple(name for name in SIMULATORS if name != package)
    for path in sorted(root.glob("*.py")):
        leaks = {n for n in imported_names(path, package) if n.startswith(others)}
        assert not leaks, f"{path.name} imports another simulator: {sorted(leaks)}"
    edges = graph(package, root)
    assert {"server", "faults", "simulator", "admin"} <= set(edges), edges
    assert not edges["faults"], edges["faults"]
