"""main.bicep: the issue's parameters, module wiring that Bicep itself would reject, and the outputs.

The Bicep CLI is not installable here, so these tests check with pycep-parser what `bicep build`
would catch (a module called with a missing or unknown parameter, an output that does not exist)
plus what production depends on.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from bicep_helpers import body, parse, render

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def decorator(parameter: dict, kind: str) -> object:
    matches = [d.get("argument", True) for d in parameter["decorators"] if d["type"] == kind]
    return matches[0] if matches else None


MAIN = parse("main.bicep")
PARAMS = MAIN["parameters"]


def test_deploys_at_resource_group_scope():
    assert MAIN["globals"]["scope"]["value"] == "resourceGroup"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("namePrefix", "string"),
        ("dataverseUrl", "string"),
        ("defaultQueueId", "string"),
        ("webhookSecret", "string"),
        ("alertEmail", "string"),
    ],
)
def test_required_parameters_of_the_issue(name, kind):
    assert PARAMS[name]["type"] == kind
    assert PARAMS[name]["default"] is None, f"{name} has no sensible default and must be required"


def test_location_defaults_to_the_resource_group():
    assert render(PARAMS["location"]["default"]) == "resource_group().location"


def test_webhook_secret_is_secure_and_never_defaulted():
    assert decorator(PARAMS["webhookSecret"], "secure") is True
    assert decorator(PARAMS["healthProbeKey"], "secure") is True
    assert PARAMS["healthProbeKey"]["default"] == ""


def test_workstream_id_must_be_a_guid_length():
    assert decorator(PARAMS["defaultQueueId"], "min_length") == 36
    assert decorator(PARAMS["defaultQueueId"], "max_length") == 36


def test_maximum_instance_count_is_bounded_for_dataverse():
    parameter = PARAMS["maximumInstanceCount"]
    assert parameter["type"] == "int"
    assert decorator(parameter, "min_value") == 1
    assert decorator(parameter, "max_value") == 1000
    # Dataverse allows 52 concurrent requests per user; the default must stay well below.
    assert 1 <= parameter["default"] <= 20


def test_python_version_defaults_to_the_version_the_project_requires():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lower_bound = re.search(r">=\s*(\d+\.\d+)", pyproject["project"]["requires-python"]).group(1)
    assert PARAMS["pythonVersion"]["default"] == lower_bound


def test_name_prefix_is_short_enough_for_every_derived_name():
    # Key Vault and storage names stop at 24 characters: 'kv-' + prefix + '-' + 6-char suffix.
    assert decorator(PARAMS["namePrefix"], "max_length") <= 24 - len("kv-") - len("-") - 6


def test_queue_and_table_names_follow_the_design():
    variables = MAIN["variables"]
    queue = variables["handoffQueueName"]["value"]
    names = [
        queue if v == "handoffQueueName" else v.replace("${handoffQueueName}", queue)
        for v in variables["queueNames"]["value"]
    ]
    assert queue == "handoffs"
    assert names == ["handoffs", "handoffs-deadletter", "handoffs-poison"]
    assert variables["handoffTableName"]["value"] == "handoffs"


def module_parameters(path: str) -> dict:
    return parse(path)["parameters"]


@pytest.mark.parametrize("module_name", sorted(MAIN["modules"]))
def test_each_module_gets_every_required_parameter_and_no_unknown_one(module_name):
    module = MAIN["modules"][module_name]
    path = module["detail"]["path"]
    assert (INFRA / path).is_file(), f"{module_name} points at a missing file {path}"
    declared = module_parameters(path)
    passed = set(body(module)["params"])
    required = {name for name, p in declared.items() if p["default"] is None}
    assert passed - set(declared) == set(), f"{module_name} passes parameters {path} does not declare"
    assert required - passed == set(), f"{module_name} leaves required parameters of {path} unset"


def test_every_module_output_main_uses_exists():
    text = (INFRA / "main.bicep").read_text()
    used = set(re.findall(r"\b(\w+)\.outputs\.(\w+)", text))
    assert used, "main.bicep should wire modules together through their outputs"
    for module_name, output in used:
        path = MAIN["modules"][module_name]["detail"]["path"]
        assert output in parse(path)["outputs"], f"{path} has no output {output}"


def test_the_app_starts_only_after_its_roles_are_granted():
    assert "identityRoles" in body(MAIN["modules"]["functionApp"])["dependsOn"]


def test_the_availability_probe_needs_a_health_key():
    condition = MAIN["modules"]["healthProbe"]["config"]["condition"]
    assert render(condition) == "!empty(healthProbeKey)"


def test_outputs_name_the_app_the_webhook_and_the_identity():
    outputs = {name: render(output["value"]) for name, output in MAIN["outputs"].items()}
    assert outputs["webhookUrl"] == "https://${functionApp.outputs.defaultHostName}/api/handoffs"
    assert outputs["functionAppName"] == "functionApp.outputs.name"
    assert outputs["identityPrincipalId"] == "identity.outputs.principalId"
    assert outputs["identityClientId"] == "identity.outputs.clientId"


def test_no_output_carries_a_key_or_secret():
    for name, output in MAIN["outputs"].items():
        rendered = str(output["value"])
        assert "code=" not in rendered, name
        assert "webhookSecret" not in rendered, name
        assert "healthProbeKey" not in rendered, name
