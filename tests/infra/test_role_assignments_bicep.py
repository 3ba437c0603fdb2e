"""modules/identity-roles.bicep: each role's GUID, its scope (the narrowest that works) and its name."""

from __future__ import annotations

from pathlib import Path

import pytest
from bicep_helpers import body, parse, render
from pycep import BicepParser

INFRA = Path(__file__).resolve().parents[2] / "infra"

# Built-in role definition ids, as documented by Microsoft (Azure built-in roles).
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"

# role -> the resource type it must be scoped to
EXPECTED = {
    STORAGE_BLOB_DATA_OWNER: "Microsoft.Storage/storageAccounts",
    STORAGE_QUEUE_DATA_CONTRIBUTOR: "Microsoft.Storage/storageAccounts/queueServices/queues",
    STORAGE_TABLE_DATA_CONTRIBUTOR: "Microsoft.Storage/storageAccounts/tableServices/tables",
    KEY_VAULT_SECRETS_USER: "Microsoft.KeyVault/vaults/secrets",
    MONITORING_METRICS_PUBLISHER: "Microsoft.Insights/components",
}


MODULE = parse("modules/identity-roles.bicep")
RESOURCES = MODULE["resources"]
ROLES = MODULE["variables"]["roles"]["value"]
ASSIGNMENTS = {
    name: resource
    for name, resource in RESOURCES.items()
    if resource["type"] == "Microsoft.Authorization/roleAssignments"
}


def role_of(assignment: dict) -> str:
    """The GUID the assignment's roleDefinitionId resolves to."""
    function = body(assignment)["properties"]["roleDefinitionId"]["function"]
    assert function["type"] == "subscription_resource_id"
    assert function["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    reference = render(function["parameters"]["resource_name_1"])
    assert reference.startswith("roles."), "role ids come from the one documented table"
    return ROLES[reference.removeprefix("roles.")]


def scope_symbol(assignment: dict) -> str:
    return render(body(assignment)["scope"]).split("[")[0]


def test_the_five_roles_and_nothing_else():
    assert sorted(role_of(a) for a in ASSIGNMENTS.values()) == sorted(EXPECTED)


def test_role_table_holds_the_documented_guids():
    assert set(ROLES.values()) == set(EXPECTED)


@pytest.mark.parametrize("assignment_name", sorted(ASSIGNMENTS))
def test_each_role_is_scoped_to_its_narrowest_resource(assignment_name):
    assignment = ASSIGNMENTS[assignment_name]
    scope = RESOURCES[scope_symbol(assignment)]
    assert scope["existing"] is True, "scopes are the resources other modules create"
    assert scope["type"] == EXPECTED[role_of(assignment)]


@pytest.mark.parametrize("assignment_name", sorted(ASSIGNMENTS))
def test_each_assignment_is_for_the_app_identity_as_a_service_principal(assignment_name):
    properties = body(ASSIGNMENTS[assignment_name])["properties"]
    assert properties["principalId"] == "principalId"
    assert properties["principalType"] == "ServicePrincipal"


@pytest.mark.parametrize("assignment_name", sorted(ASSIGNMENTS))
def test_assignment_names_are_deterministic(assignment_name):
    assignment = body(ASSIGNMENTS[assignment_name])
    scope = render(assignment["scope"])
    role = render(assignment["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"])
    assert render(assignment["name"]) == f"guid({scope}.id, principalId, {role})"


def test_queue_role_is_granted_on_each_queue_main_creates():
    assignment = ASSIGNMENTS["queueDataContributor"]["config"]
    assert assignment["loop_type"]["detail"]["array_name"] == "queueNames"
    assert render(body(ASSIGNMENTS["queueDataContributor"])["scope"]) == "queues[i]"
    queues = RESOURCES["queues"]["config"]
    assert queues["loop_type"]["detail"]["array_name"] == "queueNames"
    main = parse("main.bicep")
    assert main["modules"]["identityRoles"]["config"]["params"]["queueNames"] == "queueNames"
    assert main["modules"]["storage"]["config"]["params"]["queueNames"] == "queueNames"


def test_secret_role_is_on_the_secret_not_the_vault():
    secret = RESOURCES[scope_symbol(ASSIGNMENTS["secretsUser"])]["config"]
    assert secret["parent"] == "vault"
    assert secret["name"] == "webhookSecretName"


def test_nothing_is_granted_at_resource_group_or_subscription_scope():
    for name, assignment in ASSIGNMENTS.items():
        assert "scope" in body(assignment), f"{name} would default to the resource group"
    text = (INFRA / "modules" / "identity-roles.bicep").read_text()
    assert "resourceGroup()" not in text
    assert "subscription()" not in text


def test_no_other_file_assigns_roles():
    for path in INFRA.rglob("*.bicep"):
        if path.name == "identity-roles.bicep":
            continue
        types = {r["type"] for r in BicepParser().parse(file_path=path).get("resources", {}).values()}
        assert "Microsoft.Authorization/roleAssignments" not in types, f"{path} grants a role"
