"""What main.bicep deploys: it evaluates whole, every parameter does something, nothing accepts keys.

The hardening checks look at the evaluated resources, not the text, so they hold whichever module
declares a resource. checkov (test_checkov.py) covers the generic Azure rules on top.
"""

from __future__ import annotations

import json
import re
import tomllib

import pytest
from bicep_helpers import ROOT, Template, decorator, deploy, parse

SCENARIOS = {
    "defaults": {},
    "messaging, signed, with the probe": {
        "deliveryMode": "messaging",
        "webhookSecret": "whsec_c2VjcmV0",
        "messagingClientSecret": "client-secret",
        "messagingApiUrl": "https://m-org.crm.omnichannelengagementhub.com",
        "healthProbeKey": "probe-key",
    },
}


def snapshot(deployment: Template) -> str:
    """Everything the deployment would create, and its outputs, as text to compare."""
    resources = sorted(
        (r.type, r.full_name, json.dumps(r.properties, sort_keys=True, default=str))
        for r in deployment.resources()
    )
    return json.dumps([resources, deployment.outputs], default=str)


def one(deployment: Template, type_: str) -> dict:
    (resource,) = deployment.resources(type_)
    return resource.properties


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_whole_deployment_evaluates(scenario):
    """A module called with a missing or unknown parameter, an output that does not exist, or a
    property read from a resource that is not deployed raises here, as `bicep build` or ARM would."""
    deployment = deploy(**SCENARIOS[scenario])
    for template in deployment.modules():
        assert isinstance(template.outputs, dict)
    assert len(deployment.resources()) >= 30


def variant(name: str, parameter: dict) -> object:
    """A valid value other than the default, for a parameter of main.bicep."""
    default = deploy().symbol(name)
    allowed = decorator(parameter, "allowed")
    if allowed:
        return next(v for v in allowed if v != default)
    if parameter["type"] == "bool":
        return not default
    if parameter["type"] == "int":
        high = decorator(parameter, "max_value")
        return default - 1 if high is not None and default >= high else default + 1
    if parameter["type"] == "object":
        return {"changed": 1}
    if name == "defaultQueueId":
        return "22222222-2222-2222-2222-222222222222"
    return "changed-value" if not default else f"{default}x"[: decorator(parameter, "max_length") or None]


def test_every_parameter_changes_what_is_deployed():
    baseline = snapshot(deploy())
    inert = [
        name
        for name, parameter in parse("main.bicep")["parameters"].items()
        if snapshot(deploy(**{name: variant(name, parameter)})) == baseline
    ]
    assert inert == [], f"parameters an admin can set that change nothing: {inert}"


def test_storage_accepts_only_microsoft_entra_id():
    deployment = deploy()
    properties = one(deployment, "Microsoft.Storage/storageAccounts")["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["defaultToOAuthAuthentication"] is True
    assert properties["allowBlobPublicAccess"] is False
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True
    container = one(deployment, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert container["properties"]["publicAccess"] == "None"
    for template in deployment.modules():
        assert "listKeys" not in json.dumps(template.tree), f"{template.relative} reads a key"


def test_key_vault_is_rbac_only_and_cannot_be_purged():
    properties = one(deploy(), "Microsoft.KeyVault/vaults")["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert "accessPolicies" not in properties
    assert properties["enablePurgeProtection"] is True
    assert properties["enableSoftDelete"] is True
    assert properties["enabledForTemplateDeployment"] is False


def test_telemetry_accepts_only_microsoft_entra_id():
    deployment = deploy()
    assert one(deployment, "Microsoft.Insights/components")["properties"]["DisableLocalAuth"] is True
    workspace = one(deployment, "Microsoft.OperationalInsights/workspaces")["properties"]
    assert workspace["features"]["disableLocalAuth"] is True


def test_the_app_is_a_hardened_python_flex_consumption_app():
    deployment = deploy(pythonVersion="3.11")
    plan = one(deployment, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    app = one(deployment, "Microsoft.Web/sites")
    assert app["kind"] == "functionapp,linux"
    properties = app["properties"]
    assert properties["httpsOnly"] is True
    assert properties["siteConfig"]["minTlsVersion"] == "1.2"
    assert properties["siteConfig"]["ftpsState"] == "Disabled"
    assert properties["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.11"}
    policies = {
        r.name: r.properties["properties"]["allow"]
        for r in deployment.resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    }
    assert policies == {"ftp": False, "scm": False}
    assert app["tags"]["azd-service-name"] == "api", "azd finds the app by this tag (azure.yaml)"


def test_outputs_point_at_the_deployed_app_and_identity():
    deployment = deploy()
    outputs = deployment.outputs
    (app,) = deployment.resources("Microsoft.Web/sites")
    (identity,) = deployment.resources("Microsoft.ManagedIdentity/userAssignedIdentities")
    host = f"https://{app.name}.azurewebsites.net"
    assert outputs["functionAppName"] == app.name
    assert outputs["webhookUrl"] == f"{host}/api/handoffs"
    assert outputs["messagingWebhookUrl"] == f"{host}/api/messaging"
    assert outputs["healthUrl"] == f"{host}/api/health"
    assert outputs["identityClientId"] == identity.runtime(["clientId"])
    assert outputs["identityPrincipalId"] == identity.runtime(["principalId"])


def test_the_availability_probe_exists_only_with_a_health_key_and_calls_health():
    assert deploy().resources("Microsoft.Insights/webtests") == []
    deployment = deploy(healthProbeKey="probe-key")
    probe = one(deployment, "Microsoft.Insights/webtests")
    assert probe["properties"]["Request"]["RequestUrl"] == deployment.outputs["healthUrl"]
    assert {"key": "x-functions-key", "value": "probe-key"} in probe["properties"]["Request"]["Headers"]


def test_the_longest_name_prefix_still_gives_names_azure_accepts():
    maximum = decorator(parse("main.bicep")["parameters"]["namePrefix"], "max_length")
    longest = "h" * (maximum - 2) + "-x"
    deployment = deploy(namePrefix=longest)
    (vault,) = deployment.resources("Microsoft.KeyVault/vaults")
    (account,) = deployment.resources("Microsoft.Storage/storageAccounts")
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", vault.name), vault.name
    assert "--" not in vault.name
    assert re.fullmatch(r"[a-z0-9]{3,24}", account.name), account.name


def test_the_runtime_is_the_python_the_project_declares():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = re.search(r">=\s*(\d+\.\d+)", pyproject["project"]["requires-python"]).group(1)
    (app,) = deploy().resources("Microsoft.Web/sites")
    assert app.properties["properties"]["functionAppConfig"]["runtime"]["version"] == declared
