"""modules/alerts.bicep: the four alerts, their KQL against the names the code emits, and who gets them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bicep_helpers import parse

INFRA = Path(__file__).resolve().parents[2] / "infra"


MODULE = parse("modules/alerts.bicep")
RESOURCES = MODULE["resources"]
VARIABLES = MODULE["variables"]
RULES = {name: r for name, r in RESOURCES.items() if r["type"] == "Microsoft.Insights/scheduledQueryRules"}

# What main.bicep passes, so the placeholders can be filled the way ARM would.
MAIN_PARAMS = parse("main.bicep")["modules"]["alerts"]["config"]["params"]
MAIN_VARIABLES = parse("main.bicep")["variables"]


def value_of(expression: object) -> str:
    """Resolve the few expression forms the queries use: literals, variables, string(), interpolation."""
    if isinstance(expression, int):
        return str(expression)
    if isinstance(expression, dict):
        function = expression["function"]
        assert function["type"] == "string"
        return value_of(function["parameters"]["value_to_convert"])
    if expression in VARIABLES:
        return value_of(VARIABLES[expression]["value"])
    if expression == "handoffQueueName":
        return MAIN_VARIABLES[MAIN_PARAMS["handoffQueueName"]]["value"]
    if expression == "healthProbeName":
        return "webtest-example-health"
    return re.sub(r"\$\{(\w+)\}", lambda m: value_of(m.group(1)), expression)


def query(variable: str) -> str:
    """The KQL a rule sends, with its placeholders replaced."""
    function = VARIABLES[variable]["value"]["function"]
    assert function["type"] == "replace"
    parameters = function["parameters"]
    template = VARIABLES[parameters["original_string"]]["value"]
    assert parameters["old_string"] in template, "the placeholder must occur in the template"
    return template.replace(parameters["old_string"], value_of(parameters["new_string"]))


def criterion(rule: str) -> dict:
    (only,) = RULES[rule]["config"]["properties"]["criteria"]["allOf"]
    return only


def test_action_group_emails_alert_email():
    group = RESOURCES["actionGroup"]["config"]
    assert RESOURCES["actionGroup"]["type"] == "Microsoft.Insights/actionGroups"
    (receiver,) = group["properties"]["emailReceivers"]
    assert receiver["emailAddress"] == "alertEmail"
    assert MAIN_PARAMS["alertEmail"] == "alertEmail"
    assert group["properties"]["enabled"] is True


def test_there_are_the_four_alerts_the_issue_asks_for():
    assert set(RULES) == {"deadLettered", "healthFailing", "latencyHigh", "dataverseThrottled"}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_queries_application_insights_and_notifies(rule):
    properties = RULES[rule]["config"]["properties"]
    assert properties["enabled"] is True
    assert properties["scopes"] == ["appInsightsId"]
    groups = properties["actions"]["actionGroups"]
    assert [g["operator"]["operands"] for g in groups] == [{"operand_1": "actionGroup", "operand_2": "id"}]
    assert criterion(rule)["operator"] == "GreaterThan"


@pytest.mark.parametrize(
    ("rule", "variable"),
    [
        ("deadLettered", "deadLetteredQuery"),
        ("healthFailing", "healthFailingQuery"),
        ("latencyHigh", "latencyQuery"),
        ("dataverseThrottled", "dataverseThrottledQuery"),
    ],
)
def test_every_query_is_well_formed_and_keeps_a_timestamp(rule, variable):
    assert criterion(rule)["query"] == variable
    kql = query(variable)
    assert not re.search(r"__[A-Z_]+__", kql), "a placeholder was left unfilled"
    assert kql.count("(") == kql.count(")")
    assert kql.count('"') % 2 == 0
    assert "timestamp" in kql, "log alerts bin results by their timestamp column"


def test_dead_letter_alert_fires_on_any_dead_letter_or_poison_message():
    kql = query("deadLetteredQuery")
    assert kql.startswith("traces")
    assert 'message startswith "handoff.dead_lettered"' in kql
    assert "Moving message to queue 'handoffs-poison'" in kql
    assert criterion("deadLettered")["timeAggregation"] == "Count"
    assert criterion("deadLettered")["threshold"] == 0


def test_health_alert_covers_the_probe_and_the_endpoint():
    kql = query("healthFailingQuery")
    assert 'availabilityResults\n| where name == "webtest-example-health"' in kql
    assert 'url has "/api/health"' in kql
    assert "toint(resultCode) >= 500" in kql
    assert criterion("healthFailing")["threshold"] == 0
    main = parse("main.bicep")
    assert (
        render_names(main["modules"]["alerts"]["config"]["params"]["healthProbeName"]) == "names.healthProbe"
    )
    assert (
        render_names(main["modules"]["healthProbe"]["config"]["config"]["params"]["name"])
        == "names.healthProbe"
    )


def render_names(expression: dict) -> str:
    operands = expression["operator"]["operands"]
    return f"{operands['operand_1']}.{operands['operand_2']}"


def test_latency_alert_uses_the_e2e_histogram_against_the_threshold():
    kql = query("latencyQuery")
    assert 'where name == "handoff.e2e_latency_ms"' in kql
    assert "percentilew(valueMax, 95, toint(valueCount))" in kql
    assert "handoffs >= 5" in kql
    only = criterion("latencyHigh")
    assert only["metricMeasureColumn"] == "p95UpperBoundMs"
    assert "p95UpperBoundMs" in kql
    assert only["threshold"] == "p95LatencyThresholdMs"
    assert MAIN_PARAMS["p95LatencyThresholdMs"] == "p95LatencyThresholdMs"


def test_throttling_alert_measures_the_429_share_of_dataverse_requests():
    kql = query("dataverseThrottledQuery")
    assert 'where name == "dataverse.request_ms"' in kql
    assert 'tostring(customDimensions.status) == "429"' in kql
    assert "100.0 * throttled / requests" in kql
    only = criterion("dataverseThrottled")
    assert only["metricMeasureColumn"] == "throttledPercent"
    assert only["threshold"] == "dataverseThrottledPercentThreshold"
    assert MAIN_PARAMS["dataverseThrottledPercentThreshold"] == "dataverseThrottledPercentThreshold"


def test_thresholds_have_sane_defaults():
    params = parse("main.bicep")["parameters"]
    assert 1000 <= params["p95LatencyThresholdMs"]["default"] <= 120000
    assert 1 <= params["dataverseThrottledPercentThreshold"]["default"] <= 20
