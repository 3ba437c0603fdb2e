"""Every Bicep file under infra/: it parses, says what it is for, and declares nothing it does not use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pycep import BicepParser

INFRA = Path(__file__).resolve().parents[2] / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
IDS = [str(p.relative_to(INFRA)) for p in BICEP_FILES]


def code_without_comments(path: Path) -> str:
    return "\n".join(line.split("//", 1)[0] for line in path.read_text().splitlines())


def test_the_layout_is_main_plus_small_modules():
    assert INFRA / "main.bicep" in BICEP_FILES
    modules = [p for p in BICEP_FILES if p.parent == INFRA / "modules"]
    assert len(modules) >= 6
    assert set(BICEP_FILES) == {INFRA / "main.bicep", *modules}, "Bicep lives in main.bicep and modules/ only"
    for module in modules:
        assert len(module.read_text().splitlines()) <= 320, f"{module.name} is no longer small"


@pytest.mark.parametrize("path", BICEP_FILES, ids=IDS)
def test_file_parses(path):
    parsed = BicepParser().parse(file_path=path)
    assert parsed.get("resources") or parsed.get("modules"), f"{path.name} declares nothing"


@pytest.mark.parametrize("path", BICEP_FILES, ids=IDS)
def test_file_opens_with_a_comment_saying_what_it_is_for(path):
    assert path.read_text().startswith("// "), f"{path.name} should start by saying what it deploys and why"


@pytest.mark.parametrize("path", BICEP_FILES, ids=IDS)
def test_every_parameter_and_variable_is_used(path):
    parsed = BicepParser().parse(file_path=path)
    code = code_without_comments(path)
    for kind in ("parameters", "variables"):
        for name in parsed.get(kind, {}):
            # Not the declaration, and not a property key that merely shares the name (`location: ...`).
            mentions = len(re.findall(rf"(?<![\w.']){re.escape(name)}\b", code))
            keys = len(re.findall(rf"^\s*{re.escape(name)}\s*:", code, re.MULTILINE))
            uses = mentions - keys - 1
            assert uses >= 1, f"{path.name}: {kind[:-1]} {name} is declared but never used"


@pytest.mark.parametrize("path", BICEP_FILES, ids=IDS)
def test_api_versions_are_stable(path):
    versions = re.findall(r"'[\w.]+/[\w/]+@([\w-]+)'", path.read_text())
    assert versions or "modules" in BicepParser().parse(file_path=path)
    for version in versions:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", version), f"{path.name} uses API version {version}"
