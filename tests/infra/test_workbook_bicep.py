"""modules/workbook.bicep: the operations workbook shows every metric the code emits."""

from __future__ import annotations

from pathlib import Path

from bicep_helpers import parse

INFRA = Path(__file__).resolve().parents[2] / "infra"


MODULE = parse("modules/workbook.bicep")
WORKBOOK = MODULE["resources"]["workbook"]
CONTENT = MODULE["variables"]["workbookContent"]["value"]
VARIABLES = MODULE["variables"]


def panel_queries() -> list[str]:
    items = [item for item in CONTENT["items"] if isinstance(item, dict) and item["type"] == 3]
    return [VARIABLES[item["content"]["query"]]["value"] for item in items]


def test_workbook_is_shared_and_bound_to_application_insights():
    config = WORKBOOK["config"]
    assert WORKBOOK["type"] == "Microsoft.Insights/workbooks"
    assert config["kind"] == "shared"
    assert config["properties"]["sourceId"] == "appInsightsId"
    assert config["properties"]["category"] == "workbook"
    serialized = config["properties"]["serializedData"]["function"]
    assert serialized["type"] == "string"
    assert serialized["parameters"]["value_to_convert"] == "workbookContent"


def test_workbook_name_is_a_stable_guid():
    assert WORKBOOK["config"]["name"]["function"]["type"] == "guid"


def test_panels_cover_outcomes_latency_and_dataverse_status():
    queries = "\n".join(panel_queries())
    for metric in (
        "handoffs.accepted",
        "handoffs.created",
        "handoffs.retried",
        "handoffs.dead_lettered",
        "handoff.e2e_latency_ms",
        "dataverse.request_ms",
    ):
        assert f'"{metric}"' in queries, metric
    assert "percentilew(valueMax, 95" in queries
    assert "customDimensions.status" in queries
    assert "handoff.dead_lettered" in queries


def test_every_panel_follows_the_time_range_parameter():
    items = [item for item in CONTENT["items"] if isinstance(item, dict) and item["type"] == 3]
    assert len(items) >= 4
    for item in items:
        assert item["content"]["timeContextFromParameter"] == "TimeRange"
        assert item["content"]["resourceType"] == "microsoft.insights/components"
    assert "timeRangeParameters" in CONTENT["items"]
