"""infra/main.bicepparam against main.bicep: every required parameter set, none unknown, no value inline.

pycep-parser does not read .bicepparam files, and the format this file uses is small, so it is read
line by line here: `using '<file>'` and `param <name> = <expression>`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pycep import BicepParser

INFRA = Path(__file__).resolve().parents[2] / "infra"
PARAM_FILE = INFRA / "main.bicepparam"
MAIN = BicepParser().parse(file_path=INFRA / "main.bicep")
DECLARED = MAIN["parameters"]

USING = re.compile(r"^using '(?P<path>[^']+)'$")
PARAM = re.compile(r"^param (?P<name>\w+) = (?P<expression>.+)$")
# The only value forms allowed: an environment variable, optionally with a default, optionally int().
FROM_ENVIRONMENT = re.compile(
    r"^(?P<int>int\()?readEnvironmentVariable\('(?P<variable>[A-Z][A-Z0-9_]*)'(?:, '(?P<default>[^']*)')?\)(?(int)\))$"
)


def statements() -> list[str]:
    lines = [line.split("//", 1)[0].strip() for line in PARAM_FILE.read_text().splitlines()]
    return [line for line in lines if line]


def assignments() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in statements()[1:]:
        match = PARAM.match(line)
        assert match, f"unexpected line in main.bicepparam: {line}"
        assert match["name"] not in found, f"{match['name']} is set twice"
        found[match["name"]] = match["expression"]
    return found


def test_file_targets_main_bicep():
    match = USING.match(statements()[0])
    assert match, "main.bicepparam must start with `using './main.bicep'`"
    assert (PARAM_FILE.parent / match["path"]).resolve() == (INFRA / "main.bicep").resolve()


def test_every_required_parameter_is_set():
    required = {name for name, parameter in DECLARED.items() if parameter["default"] is None}
    assert required, "main.bicep should have required parameters"
    assert required - set(assignments()) == set()


def test_no_unknown_parameter_is_set():
    assert set(assignments()) - set(DECLARED) == set()


@pytest.mark.parametrize("name", sorted(assignments()))
def test_values_come_from_the_environment_never_from_the_file(name):
    match = FROM_ENVIRONMENT.match(assignments()[name])
    assert match, f"{name} must be read with readEnvironmentVariable(...), not written in the file"
    is_int = DECLARED[name]["type"] == "int"
    assert bool(match["int"]) == is_int, (
        f"{name}: wrap the variable in int() exactly when the parameter is an int"
    )


@pytest.mark.parametrize("name", sorted(assignments()))
def test_fallbacks_match_the_template_defaults(name):
    match = FROM_ENVIRONMENT.match(assignments()[name])
    default = DECLARED[name]["default"]
    if default is None:
        assert match["default"] is None, f"{name} is required: a fallback would hide a missing variable"
    else:
        assert match["default"] is not None, f"{name} has a default; the file must not make it required"
        assert match["default"] == str(default), (
            f"{name}: fallback {match['default']!r} differs from {default!r}"
        )


def test_the_webhook_secret_is_read_from_the_environment():
    match = FROM_ENVIRONMENT.match(assignments()["webhookSecret"])
    assert match["variable"] == "OPENCX_WEBHOOK_SECRET"
    assert match["default"] is None
