"""The app's identity can reach exactly what the deployed app settings point it at, and no more.

Evaluates main.bicep (bicep_helpers.deploy) and follows each role assignment to the resource it is
scoped to: every queue and table the app is configured with exists and carries a data role for
the identity on that queue or table alone; nothing is granted on the resource group or subscription.
"""

from __future__ import annotations

import pytest
from bicep_helpers import Resource, Template, body, deploy, parse

# Built-in role definition ids, as Microsoft documents them (Azure built-in roles).
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"

# role -> the only resource type it may be scoped to
NARROWEST_SCOPE = {
    STORAGE_BLOB_DATA_OWNER: "Microsoft.Storage/storageAccounts",
    STORAGE_QUEUE_DATA_CONTRIBUTOR: "Microsoft.Storage/storageAccounts/queueServices/queues",
    STORAGE_TABLE_DATA_CONTRIBUTOR: "Microsoft.Storage/storageAccounts/tableServices/tables",
    KEY_VAULT_SECRETS_USER: "Microsoft.KeyVault/vaults/secrets",
    MONITORING_METRICS_PUBLISHER: "Microsoft.Insights/components",
}

SCENARIOS = {
    "defaults": {},
    "messaging with every secret": {
        "deliveryMode": "messaging",
        "webhookSecret": "whsec_c2VjcmV0",
        "messagingClientSecret": "client-secret",
    },
}


def grants(deployment: Template) -> list[tuple[str, Resource, dict]]:
    """(role definition GUID, scope resource, assignment properties) for every role assignment."""
    found = []
    for assignment in deployment.resources("Microsoft.Authorization/roleAssignments"):
        scope = assignment.properties.get("scope")
        assert isinstance(scope, Resource), f"{assignment.symbol} has no resource scope: resource group wide"
        properties = assignment.properties["properties"]
        found.append((properties["roleDefinitionId"].rsplit("/", 1)[1], scope, properties))
    return found


def settings_of(deployment: Template) -> dict[str, str]:
    (app,) = deployment.resources("Microsoft.Web/sites")
    return {s["name"]: s["value"] for s in app.properties["properties"]["siteConfig"]["appSettings"]}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_queue_and_table_the_app_uses_exists_and_is_granted_on_its_own(scenario):
    deployment = deploy(**SCENARIOS[scenario])
    settings = settings_of(deployment)
    account = settings["AzureWebJobsStorage__accountName"]
    queues = [
        f"{base}{suffix}"
        for base in (settings["HANDOFF_QUEUE"], settings["MESSAGING_QUEUE"])
        for suffix in ("", "-deadletter", "-poison")
    ]
    tables = [settings["HANDOFF_STATUS_TABLE"], settings["MESSAGING_TABLE"]]
    created = {r.full_name for r in deployment.resources()}
    granted = {(role, scope.full_name) for role, scope, _ in grants(deployment)}
    for queue in queues:
        name = f"{account}/default/{queue}"
        assert name in created, f"queue {queue} is not created"
        assert (STORAGE_QUEUE_DATA_CONTRIBUTOR, name) in granted, f"the identity cannot use queue {queue}"
    for table in tables:
        name = f"{account}/default/{table}"
        assert name in created, f"table {table} is not created"
        assert (STORAGE_TABLE_DATA_CONTRIBUTOR, name) in granted, f"the identity cannot use table {table}"
    data_scopes = {
        n for role, n in granted if role in (STORAGE_QUEUE_DATA_CONTRIBUTOR, STORAGE_TABLE_DATA_CONTRIBUTOR)
    }
    assert data_scopes == {f"{account}/default/{q}" for q in [*queues, *tables]}, (
        "a grant on something unused"
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_role_is_for_the_app_identity_on_its_narrowest_scope(scenario):
    deployment = deploy(**SCENARIOS[scenario])
    (identity,) = deployment.resources("Microsoft.ManagedIdentity/userAssignedIdentities")
    (app,) = deployment.resources("Microsoft.Web/sites")
    assert list(app.properties["identity"]["userAssignedIdentities"]) == [identity.id]
    created = {r.id for r in deployment.resources()}
    roles = set()
    for role, scope, properties in grants(deployment):
        assert role in NARROWEST_SCOPE, f"unexpected role {role}"
        assert scope.type == NARROWEST_SCOPE[role], f"{role} is granted on a {scope.type}"
        assert scope.id in created, (
            f"{role} is scoped to {scope.full_name}, which this deployment does not create"
        )
        assert properties["principalId"] == identity.runtime(["principalId"])
        assert properties["principalType"] == "ServicePrincipal"
        roles.add(role)
    assert roles == set(NARROWEST_SCOPE)
    (account,) = deployment.resources("Microsoft.Storage/storageAccounts")
    (component,) = deployment.resources("Microsoft.Insights/components")
    whole = {(role, scope.id) for role, scope, _ in grants(deployment)}
    assert (STORAGE_BLOB_DATA_OWNER, account.id) in whole, (
        "host storage and the deployment package need blobs"
    )
    assert (MONITORING_METRICS_PUBLISHER, component.id) in whole, "telemetry is Entra ID only"


def test_role_assignment_names_are_unique_and_survive_a_redeployment_with_other_settings():
    first = deploy()
    second = deploy(**SCENARIOS["messaging with every secret"], incidentPriority=1)
    names = [a.name for a in first.resources("Microsoft.Authorization/roleAssignments")]
    assert len(names) == len(set(names))
    # An assignment whose name changes between deployments fails with RoleAssignmentExists.
    assert set(names) <= {a.name for a in second.resources("Microsoft.Authorization/roleAssignments")}


def test_the_app_starts_only_after_its_roles_are_granted():
    assert "identityRoles" in body(parse("main.bicep")["modules"]["functionApp"])["dependsOn"]


def test_the_app_is_deployed_from_its_package_with_the_identity():
    deployment = deploy()
    (identity,) = deployment.resources("Microsoft.ManagedIdentity/userAssignedIdentities")
    (app,) = deployment.resources("Microsoft.Web/sites")
    (container,) = deployment.resources("Microsoft.Storage/storageAccounts/blobServices/containers")
    storage = app.properties["properties"]["functionAppConfig"]["deployment"]["storage"]
    account, _, name = container.full_name.split("/")
    assert storage["value"] == f"https://{account}.blob.core.windows.net/{name}"
    assert storage["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": identity.id,
    }
