"""Alerts and the workbook watch telemetry the code really emits, on the deployed component, and reach a person.

A renamed metric or queue leaves a log alert silently empty, so each name a query filters on is
looked up in the app's own source, and the queue and probe names in the deployed configuration.
"""

from __future__ import annotations

import re

from bicep_helpers import ROOT, Template, deploy

APP_SOURCES = [
    path
    for folder in (
        "shared",
        "handoff_trigger",
        "retry_queue",
        "status_api",
        "messaging_webhook",
        "relay_queue",
    )
    for path in (ROOT / folder).rglob("*.py")
] + [ROOT / "function_app.py"]
APP_CODE = "\n".join(path.read_text() for path in APP_SOURCES if path.is_file())

THRESHOLDS = {"p95LatencyThresholdMs": 12345, "dataverseThrottledPercentThreshold": 7}


def deployment() -> Template:
    return deploy(alertEmail="pager@example.com", healthProbeKey="probe-key", **THRESHOLDS)


def rules(deployed: Template) -> dict[str, dict]:
    """displayName -> (the one criterion, the rule's properties)."""
    found = {}
    for rule in deployed.resources("Microsoft.Insights/scheduledQueryRules"):
        properties = rule.properties["properties"]
        (criterion,) = properties["criteria"]["allOf"]
        found[properties["displayName"]] = {"criterion": criterion, **properties}
    return found


def emitted_names(kql: str) -> set[str]:
    """Metric and event names a query filters on: `name == "x"` and `message startswith "x"`."""
    return set(re.findall(r'(?:name ==|startswith|event\) ==) "([a-z_]+\.[a-z0-9_]+)"', kql))


def test_every_alert_queries_the_component_and_emails_the_alert_address():
    deployed = deployment()
    (component,) = deployed.resources("Microsoft.Insights/components")
    (group,) = deployed.resources("Microsoft.Insights/actionGroups")
    assert [r["emailAddress"] for r in group.properties["properties"]["emailReceivers"]] == [
        "pager@example.com"
    ]
    found = rules(deployed)
    assert set(found) == {
        "Handoff dead-lettered",
        "Relay message dead-lettered",
        "Health endpoint failing",
        "Handoff p95 end-to-end latency high",
        "Dataverse throttling (429) rate high",
    }
    for name, rule in found.items():
        assert rule["enabled"] is True, name
        assert rule["scopes"] == [component.id], name
        assert rule["actions"]["actionGroups"] == [group.id], name
        assert rule["criterion"]["operator"] == "GreaterThan", name
        assert "timestamp" in rule["criterion"]["query"], f"{name}: log alerts bin by a timestamp column"
        assert not re.search(r"__[A-Z_]+__", rule["criterion"]["query"]), f"{name}: a placeholder is left"


def test_alert_queries_filter_on_names_the_code_emits():
    for name, rule in rules(deployment()).items():
        for emitted in emitted_names(rule["criterion"]["query"]):
            assert f'"{emitted}"' in APP_CODE, f"{name} waits for {emitted}, which the app never emits"


def test_alerts_follow_the_deployed_queue_probe_and_thresholds():
    deployed = deployment()
    (app,) = deployed.resources("Microsoft.Web/sites")
    settings = {s["name"]: s["value"] for s in app.properties["properties"]["siteConfig"]["appSettings"]}
    (probe,) = deployed.resources("Microsoft.Insights/webtests")
    found = rules(deployed)
    dead = found["Handoff dead-lettered"]["criterion"]
    assert f"Moving message to queue '{settings['HANDOFF_QUEUE']}-poison'" in dead["query"]
    assert '"handoff.dead_lettered"' in dead["query"] and dead["threshold"] == 0
    relay = found["Relay message dead-lettered"]
    assert f"Moving message to queue '{settings['MESSAGING_QUEUE']}-poison'" in relay["criterion"]["query"]
    assert '"relay.dead_lettered"' in relay["criterion"]["query"] and relay["criterion"]["threshold"] == 0
    # A person not heard in mode messaging is as urgent as a customer not connected.
    handoff = found["Handoff dead-lettered"]
    for key in ("severity", "evaluationFrequency", "windowSize", "autoMitigate"):
        assert relay[key] == handoff[key], key
    health = found["Health endpoint failing"]["criterion"]["query"]
    assert f'name == "{probe.name}"' in health
    assert 'url has "/api/health"' in health
    latency = found["Handoff p95 end-to-end latency high"]["criterion"]
    assert latency["threshold"] == THRESHOLDS["p95LatencyThresholdMs"]
    assert latency["metricMeasureColumn"] in latency["query"]
    throttled = found["Dataverse throttling (429) rate high"]["criterion"]
    assert throttled["threshold"] == THRESHOLDS["dataverseThrottledPercentThreshold"]
    assert 'customDimensions.status) == "429"' in throttled["query"]


def test_the_workbook_shows_metrics_the_code_emits_on_the_deployed_component():
    deployed = deployment()
    (component,) = deployed.resources("Microsoft.Insights/components")
    (workbook,) = deployed.resources("Microsoft.Insights/workbooks")
    properties = workbook.properties["properties"]
    assert properties["sourceId"] == component.id
    content = properties["serializedData"]
    shown = set(re.findall(r'\\"((?:handoffs?|dataverse)\.[a-z0-9_]+)\\"', content))
    assert {
        "handoffs.accepted",
        "handoffs.created",
        "handoffs.dead_lettered",
        "handoff.e2e_latency_ms",
    } <= shown
    for metric in shown:
        assert f'"{metric}"' in APP_CODE, f"the workbook charts {metric}, which the app never emits"
