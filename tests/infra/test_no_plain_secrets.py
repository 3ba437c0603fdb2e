"""No key and no secret in plain text anywhere in infra/: secrets flow only into Key Vault (or the probe)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from pycep import BicepParser

INFRA = Path(__file__).resolve().parents[2] / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
INFRA_FILES = sorted(p for p in INFRA.rglob("*") if p.is_file())

# Shapes of keys and key-bearing strings that must never appear.
FORBIDDEN = [
    r"listKeys\s*\(",
    r"\.listKeys\b",
    r"listAccountSas|listServiceSas",
    r"AccountKey\s*=",
    r"SharedAccessKey",
    r"SharedAccessSignature",
    r"InstrumentationKey\s*=",
    r"DefaultEndpointsProtocol=",
    r"whsec_[A-Za-z0-9+/=]{8,}",
    r"primaryMasterKey|primaryKey\b",
]

# Where a @secure() value may end up: the Key Vault secret and the probe's key header.
ALLOWED_SINKS = {
    ("modules/key-vault.bicep", "resources.webhookSecret.properties.value"),
    ("modules/health-probe.bicep", "resources.probe.properties.Request.Headers.0.value"),
}


@cache
def parse(path: Path) -> dict:
    return BicepParser().parse(file_path=path)


def walk(node: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a parsed file with its path, leaving out pycep's own wrapper keys."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("config", "function", "operator", "operands"):
                yield from walk(value, path)
            else:
                yield from walk(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}.{index}")
    elif isinstance(node, str):
        yield path, node


def references(text: str, name: str) -> bool:
    return text == name or f"${{{name}}}" in text


def secure_parameters(parsed: dict) -> set[str]:
    return {
        name
        for name, p in parsed.get("parameters", {}).items()
        if any(d["type"] == "secure" for d in p["decorators"])
    }


@pytest.mark.parametrize("path", INFRA_FILES, ids=lambda p: str(p.relative_to(INFRA)))
@pytest.mark.parametrize("pattern", FORBIDDEN)
def test_no_key_material(path, pattern):
    assert not re.search(pattern, path.read_text(), re.IGNORECASE), f"{path.name} matches {pattern}"


def test_there_are_secure_parameters_to_check():
    assert {"webhookSecret", "healthProbeKey"} <= secure_parameters(parse(INFRA / "main.bicep"))


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_secure_values_reach_only_key_vault_or_secure_module_parameters(path):
    parsed = parse(path)
    relative = str(path.relative_to(INFRA))
    for name in secure_parameters(parsed):
        sinks = [
            p
            for p, text in walk({k: v for k, v in parsed.items() if k != "parameters"})
            if references(text, name)
        ]
        assert sinks, f"{relative}: secure parameter {name} is never used"
        for sink in sinks:
            if sink.startswith("modules.") and ".params." in sink:
                module_name, _, target = sink.removeprefix("modules.").partition(".params.")
                module_path = INFRA / parsed["modules"][module_name]["detail"]["path"]
                assert target in secure_parameters(parse(module_path)), (
                    f"{relative}: {name} goes to {module_name}.{target}, which is not @secure()"
                )
            elif sink.startswith("modules.") and ".condition." in sink:
                continue  # deciding whether to deploy is not leaking the value
            else:
                assert (relative, sink) in ALLOWED_SINKS, f"{relative}: {name} flows into {sink}"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_outputs_never_carry_secure_values(path):
    parsed = parse(path)
    for name in secure_parameters(parsed):
        for output_name, output in parsed.get("outputs", {}).items():
            assert not any(references(text, name) for _, text in walk(output)), f"{path.name}: {output_name}"
