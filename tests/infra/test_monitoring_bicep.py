"""modules/monitoring.bicep: workspace-based Application Insights that accepts Entra ID telemetry only."""

from __future__ import annotations

from pathlib import Path

from bicep_helpers import parse

INFRA = Path(__file__).resolve().parents[2] / "infra"


RESOURCES = parse("modules/monitoring.bicep")["resources"]


def test_log_analytics_workspace_without_shared_keys():
    workspace = RESOURCES["workspace"]
    assert workspace["type"] == "Microsoft.OperationalInsights/workspaces"
    properties = workspace["config"]["properties"]
    assert properties["sku"] == {"name": "PerGB2018"}
    assert properties["features"]["disableLocalAuth"] is True


def test_application_insights_is_workspace_based():
    component = RESOURCES["appInsights"]
    assert component["type"] == "Microsoft.Insights/components"
    properties = component["config"]["properties"]
    assert properties["WorkspaceResourceId"]["operator"]["operands"] == {
        "operand_1": "workspace",
        "operand_2": "id",
    }
    assert properties["IngestionMode"] == "LogAnalytics"


def test_application_insights_refuses_instrumentation_key_ingestion():
    assert RESOURCES["appInsights"]["config"]["properties"]["DisableLocalAuth"] is True
