"""Sizes issue 18 set, kept from creeping back: no product module past 400 lines (one job each), and
the local tools (`devtools/`) within about 7,500 lines of Python. docs/benchmarks.md has the history."""

from __future__ import annotations

from pathlib import Path

from test_type_checking import registered_folders

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_MODULE_MAX_LINES = 400
DEVTOOLS_MAX_LINES = 7_500


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _product_modules() -> list[Path]:
    folders = ["shared", *sorted(registered_folders())]
    return [ROOT / "function_app.py", *(p for folder in folders for p in (ROOT / folder).rglob("*.py"))]


def test_no_product_module_is_past_400_lines():
    modules = _product_modules()
    assert len(modules) > 50  # the walk found the app, not an empty folder
    too_long = {str(p.relative_to(ROOT)): n for p in modules if (n := _lines(p)) > PRODUCT_MODULE_MAX_LINES}
    assert not too_long, f"split by job: {too_long}"


def test_the_local_tools_stay_within_their_budget():
    total = sum(_lines(p) for p in (ROOT / "devtools").rglob("*.py"))
    assert 1_000 < total <= DEVTOOLS_MAX_LINES, f"devtools/ is {total} lines of Python"
