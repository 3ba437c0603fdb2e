"""modules/storage.bicep: an Entra-only account holding the queues, table and deployment container."""

from __future__ import annotations

from pathlib import Path

from bicep_helpers import parse

INFRA = Path(__file__).resolve().parents[2] / "infra"


MODULE = parse("modules/storage.bicep")
RESOURCES = MODULE["resources"]
ACCOUNT = RESOURCES["account"]


def of_type(resource_type: str) -> list[dict]:
    return [r for r in RESOURCES.values() if r["type"] == resource_type]


def test_account_is_general_purpose_v2():
    assert ACCOUNT["type"] == "Microsoft.Storage/storageAccounts"
    assert ACCOUNT["config"]["kind"] == "StorageV2"


def test_account_accepts_no_keys_and_no_anonymous_access():
    properties = ACCOUNT["config"]["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["defaultToOAuthAuthentication"] is True
    assert properties["allowBlobPublicAccess"] is False
    assert properties["allowCrossTenantReplication"] is False


def test_account_transport_security():
    properties = ACCOUNT["config"]["properties"]
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True


def test_replication_is_a_bounded_choice_defaulting_to_zone_redundant():
    allowed = next(
        d["argument"] for d in MODULE["parameters"]["skuName"]["decorators"] if d["type"] == "allowed"
    )
    assert "Standard_ZRS" in allowed
    assert not any(sku.startswith("Premium") for sku in allowed), "queues and tables need a Standard account"
    assert parse("main.bicep")["parameters"]["storageSku"]["default"] == "Standard_ZRS"


def test_queues_are_created_from_the_names_main_passes():
    (queues,) = of_type("Microsoft.Storage/storageAccounts/queueServices/queues")
    assert queues["config"]["loop_type"]["detail"] == {"item_name": "queueName", "array_name": "queueNames"}
    assert queues["config"]["config"] == {"parent": "queueService", "name": "queueName"}
    (queue_service,) = of_type("Microsoft.Storage/storageAccounts/queueServices")
    assert queue_service["config"] == {"parent": "account", "name": "default"}


def test_handoff_table_exists():
    (table,) = of_type("Microsoft.Storage/storageAccounts/tableServices/tables")
    assert table["config"] == {"parent": "tableService", "name": "tableName"}
    main = parse("main.bicep")
    assert main["modules"]["storage"]["config"]["params"]["tableName"] == "handoffTableName"
    assert main["variables"]["handoffTableName"]["value"] == "handoffs"


def test_deployment_container_is_private():
    (container,) = of_type("Microsoft.Storage/storageAccounts/blobServices/containers")
    assert container["config"]["name"] == "deploymentContainerName"
    assert container["config"]["properties"] == {"publicAccess": "None"}


def test_outputs_are_endpoints_not_keys():
    assert set(MODULE["outputs"]) == {
        "name",
        "blobEndpoint",
        "queueEndpoint",
        "tableEndpoint",
        "deploymentContainerUrl",
    }
    for output in MODULE["outputs"].values():
        assert "listKeys" not in str(output["value"])
