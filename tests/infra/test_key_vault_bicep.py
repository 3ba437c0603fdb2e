"""modules/key-vault.bicep: an RBAC-only vault that cannot be purged, holding the webhook secret."""

from __future__ import annotations

from pathlib import Path

from bicep_helpers import parse

INFRA = Path(__file__).resolve().parents[2] / "infra"


MODULE = parse("modules/key-vault.bicep")
VAULT = MODULE["resources"]["vault"]
SECRET = MODULE["resources"]["webhookSecret"]


def test_vault_uses_azure_rbac_only():
    properties = VAULT["config"]["properties"]
    assert VAULT["type"] == "Microsoft.KeyVault/vaults"
    assert properties["enableRbacAuthorization"] is True
    assert "accessPolicies" not in properties


def test_vault_is_recoverable():
    properties = VAULT["config"]["properties"]
    assert properties["enableSoftDelete"] is True
    assert properties["enablePurgeProtection"] is True
    assert 7 <= properties["softDeleteRetentionInDays"] <= 90


def test_vault_is_not_a_deployment_back_door():
    properties = VAULT["config"]["properties"]
    assert properties["enabledForDeployment"] is False
    assert properties["enabledForTemplateDeployment"] is False
    assert properties["enabledForDiskEncryption"] is False


def test_secret_value_is_the_secure_parameter():
    assert SECRET["type"] == "Microsoft.KeyVault/vaults/secrets"
    assert SECRET["config"]["parent"] == "vault"
    assert SECRET["config"]["properties"]["value"] == "webhookSecretValue"
    decorators = MODULE["parameters"]["webhookSecretValue"]["decorators"]
    assert {"type": "secure"} in decorators
    assert MODULE["parameters"]["webhookSecretValue"]["default"] is None


def test_main_feeds_the_secure_webhook_secret_into_the_vault():
    params = parse("main.bicep")["modules"]["keyVault"]["config"]["params"]
    assert params["webhookSecretValue"] == "webhookSecret"


def test_outputs_are_names_and_the_uri_never_the_value():
    outputs = MODULE["outputs"]
    assert set(outputs) == {"name", "webhookSecretName", "webhookSecretUri"}
    for output in outputs.values():
        rendered = str(output["value"])
        assert "webhookSecretValue" not in rendered
        assert "'operand_2': 'value'" not in rendered, "an output reads the secret's value"
