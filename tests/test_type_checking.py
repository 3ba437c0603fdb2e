"""mypy and the package both cover every folder the Function App registers functions from.

A function folder left out of `[tool.mypy].files` is never type-checked, and one left out of
`[tool.setuptools.packages.find]` is missing from a wheel: both happened to `messaging_webhook/`
and `relay_queue/`. The folders are read from function_app.py's own imports, and any top-level
folder that defines a Blueprint must be one of them, so a new function folder cannot slip past.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _local_packages(source: str) -> set[str]:
    """The repo's top-level folders a module imports from (anywhere in it, functions included)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        names = (
            [node.module]
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
            else [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        for name in names:
            top = name.split(".")[0]
            if (ROOT / top / "__init__.py").is_file():
                found.add(top)
    return found


def registered_folders() -> set[str]:
    return _local_packages((ROOT / "function_app.py").read_text())


def blueprint_folders() -> set[str]:
    """Top-level folders whose package defines a `func.Blueprint()`."""
    return {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if "Blueprint(" in path.read_text() and not path.parent.name.startswith(".")
    }


def test_function_app_registers_every_blueprint_folder():
    folders = registered_folders()
    assert {"handoff_trigger", "retry_queue", "status_api", "messaging_webhook", "relay_queue"} <= folders
    assert blueprint_folders() <= folders, "a folder defines a Blueprint that function_app.py does not import"


def test_mypy_checks_every_function_folder_strictly():
    files = set(PYPROJECT["tool"]["mypy"]["files"])
    assert {"function_app.py", "shared"} <= files
    missing = registered_folders() - files
    assert not missing, f"add {sorted(missing)} to [tool.mypy].files in pyproject.toml"
    assert PYPROJECT["tool"]["mypy"]["strict"] is True
    for override in PYPROJECT["tool"]["mypy"]["overrides"]:
        modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
        relaxed = {m.split(".")[0] for m in modules} & (registered_folders() | {"shared", "function_app"})
        assert not relaxed, f"the app is checked strictly, yet an override relaxes {sorted(relaxed)}"


def test_the_package_holds_every_function_folder():
    include = set(PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"])
    for folder in registered_folders() | {"shared"}:
        assert {folder, f"{folder}.*"} <= include, f"add {folder} and {folder}.* to packages.find"


def test_local_tools_are_type_checked_too():
    files = set(PYPROJECT["tool"]["mypy"]["files"])
    assert {"devtools", "bench"} <= files


def test_the_import_reader_can_fail():
    assert _local_packages("from retry_queue import bp\nimport status_api\n") == {"retry_queue", "status_api"}
    assert _local_packages("from azure import functions\nimport os\n") == set()
