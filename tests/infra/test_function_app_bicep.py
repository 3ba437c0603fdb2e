"""modules/function-app.bicep: Flex Consumption, hardened site, and every DESIGN section 6 setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bicep_helpers import parse

INFRA = Path(__file__).resolve().parents[2] / "infra"


MODULE = parse("modules/function-app.bicep")
RESOURCES = MODULE["resources"]
PLAN = RESOURCES["plan"]
APP = RESOURCES["app"]
SITE = APP["config"]
SETTINGS_LIST = SITE["properties"]["siteConfig"]["appSettings"]
SETTINGS = {s["name"]: s["value"] for s in SETTINGS_LIST}

# DESIGN section 6, plus the two settings the App Insights identity-based ingestion needs.
DESIGN_SETTINGS = {
    "DATAVERSE_URL",
    "DEFAULT_QUEUE_ID",
    "OPENCX_WEBHOOK_SECRET",
    "HANDOFF_QUEUE",
    "HANDOFF_MAX_ATTEMPTS",
    "AZURE_CLIENT_ID",
}
# Settings that Flex Consumption deprecates (functionAppConfig replaces them) or that would mean a key.
FORBIDDEN_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
    "APPINSIGHTS_INSTRUMENTATIONKEY",
    "AzureWebJobsStorage",
    "AzureWebJobsDashboard",
}


def test_plan_is_flex_consumption_on_linux():
    assert PLAN["type"] == "Microsoft.Web/serverfarms"
    config = PLAN["config"]
    assert config["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert config["kind"] == "functionapp"
    assert config["properties"]["reserved"] is True


def test_site_is_a_linux_function_app_on_that_plan():
    assert APP["type"] == "Microsoft.Web/sites"
    assert SITE["kind"] == "functionapp,linux"
    assert SITE["properties"]["serverFarmId"]["operator"]["operands"] == {
        "operand_1": "plan",
        "operand_2": "id",
    }


def test_site_transport_security():
    properties = SITE["properties"]
    assert properties["httpsOnly"] is True
    site_config = properties["siteConfig"]
    assert site_config["minTlsVersion"] == "1.2"
    assert site_config["scmMinTlsVersion"] == "1.2"
    assert site_config["ftpsState"] == "Disabled"


@pytest.mark.parametrize("policy", ["ftp", "scm"])
def test_basic_auth_publishing_is_off(policy):
    matches = [
        r["config"]
        for r in RESOURCES.values()
        if r["type"] == "Microsoft.Web/sites/basicPublishingCredentialsPolicies"
        and r["config"]["name"] == policy
    ]
    assert len(matches) == 1
    assert matches[0]["parent"] == "app"
    assert matches[0]["properties"] == {"allow": False}


def test_runs_only_as_the_user_assigned_identity():
    assert SITE["identity"]["type"] == "UserAssigned"
    assert list(SITE["identity"]["userAssignedIdentities"]) == ["'${identityId}'"]
    assert SITE["properties"]["keyVaultReferenceIdentity"] == "identityId"


def test_function_app_config_deploys_with_the_identity():
    storage = SITE["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["value"] == "deploymentContainerUrl"
    assert storage["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }


def test_function_app_config_runtime_and_scale():
    config = SITE["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "pythonVersion"}
    assert config["scaleAndConcurrency"] == {
        "maximumInstanceCount": "maximumInstanceCount",
        "instanceMemoryMB": "instanceMemoryMB",
    }
    for name in ("pythonVersion", "maximumInstanceCount", "instanceMemoryMB"):
        assert name in MODULE["parameters"]


def test_every_design_setting_is_present_once():
    names = [s["name"] for s in SETTINGS_LIST]
    assert len(names) == len(set(names)), "duplicate app setting"
    assert DESIGN_SETTINGS - set(names) == set(), "missing DESIGN section 6 settings"


def test_no_deprecated_or_key_based_setting():
    assert FORBIDDEN_SETTINGS & set(SETTINGS) == set()


@pytest.mark.parametrize(
    ("setting", "parameter"),
    [
        ("DATAVERSE_URL", "dataverseUrl"),
        ("DEFAULT_QUEUE_ID", "defaultQueueId"),
        ("HANDOFF_QUEUE", "handoffQueueName"),
        ("AZURE_CLIENT_ID", "identityClientId"),
        ("AzureWebJobsStorage__accountName", "storageAccountName"),
        ("AzureWebJobsStorage__queueServiceUri", "queueEndpoint"),
        ("AzureWebJobsStorage__tableServiceUri", "tableEndpoint"),
        ("AzureWebJobsStorage__clientId", "identityClientId"),
        ("APPLICATIONINSIGHTS_CONNECTION_STRING", "appInsightsConnectionString"),
    ],
)
def test_settings_come_from_parameters(setting, parameter):
    assert SETTINGS[setting] == parameter
    assert parameter in MODULE["parameters"]


def test_max_attempts_is_the_parameter_as_a_string():
    function = SETTINGS["HANDOFF_MAX_ATTEMPTS"]["function"]
    assert function["type"] == "string"
    assert function["parameters"]["value_to_convert"] == "handoffMaxAttempts"


def test_host_storage_is_identity_based():
    assert SETTINGS["AzureWebJobsStorage__credential"] == "managedidentity"


def test_application_insights_ingests_with_the_identity():
    assert (
        SETTINGS["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
        == "ClientId=${identityClientId};Authorization=AAD"
    )


def test_webhook_secret_is_a_key_vault_reference():
    value = SETTINGS["OPENCX_WEBHOOK_SECRET"]
    assert re.fullmatch(r"@Microsoft\.KeyVault\(SecretUri=\$\{webhookSecretUri\}\)", value)
    assert "webhookSecretUri" in MODULE["parameters"]
    assert not any(d["type"] == "secure" for p in MODULE["parameters"].values() for d in p["decorators"]), (
        "the app module must never receive a secret value, only its Key Vault URI"
    )


def test_main_passes_the_versionless_secret_uri():
    main = parse("main.bicep")
    params = main["modules"]["functionApp"]["config"]["params"]
    uri = params["webhookSecretUri"]["operator"]["operands"]
    assert uri["operand_1"] == "keyVault"
    assert uri["operand_2"]["operator"]["operands"] == {
        "operand_1": "outputs",
        "operand_2": "webhookSecretUri",
    }
    output = parse("modules/key-vault.bicep")["outputs"]["webhookSecretUri"]["value"]["operator"]["operands"]
    assert output["operand_1"] == "webhookSecret"
    # secretUri has no version (secretUriWithVersion has): rotation needs no template change.
    assert output["operand_2"]["operator"]["operands"] == {
        "operand_1": "properties",
        "operand_2": "secretUri",
    }


def test_main_sets_the_queue_to_the_design_default():
    params = parse("main.bicep")["modules"]["functionApp"]["config"]["params"]
    assert params["handoffQueueName"] == "handoffQueueName"
    assert parse("main.bicep")["variables"]["handoffQueueName"]["value"] == "handoffs"


def test_azd_can_find_the_app():
    tags = SITE["tags"]["function"]
    assert tags["type"] == "union"
    assert tags["parameters"]["arg_2"] == {"'azd-service-name'": "api"}
