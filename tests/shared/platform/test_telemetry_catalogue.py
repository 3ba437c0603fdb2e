"""Every metric and span dimension the docs promise is recorded, through OpenTelemetry's in-memory
reader and exporter. The registry once held only `handoffs.*`: `relay.*` and `messaging.activities`
were dropped and a `suppress(Exception)` hid it, and spans lost `conversationId`, `direction`, `seq`
and `eventName`. These tests fail when a documented metric or dimension goes missing again."""

from __future__ import annotations

import ast
import re

import pytest
from helpers import ROOT, metric_points
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.platform import process, telemetry

OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
MESSAGING = (ROOT / "docs" / "messaging.md").read_text()
APP_FOLDERS = ("shared", "handoff_trigger", "retry_queue", "status_api", "messaging_webhook", "relay_queue")
SPAN_DIMENSIONS_PROMISED = ("conversationId", "direction", "seq", "eventName", "handoffId", "sessionId")


@pytest.fixture
def recorded():
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    telemetry.install(tracer_provider, MeterProvider(metric_readers=[reader]))
    yield spans, reader
    process.close_all()


def documented_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """docs/operations.md's metrics table: name -> (kind, dimensions)."""
    rows = re.findall(r"^\| `([a-z0-9_.]+)` \| (counter|histogram) \|([^|]*)\|", OPERATIONS, re.MULTILINE)
    return {name: (kind, frozenset(re.findall(r"`(\w+)`", dims))) for name, kind, dims in rows}


def test_the_docs_table_is_the_code_table():
    documented = documented_metrics()
    assert len(documented) >= 15
    in_code = {name: (m.kind.value, m.dimensions) for name, m in telemetry.METRICS.items()}
    assert documented == in_code


def test_every_metric_docs_messaging_names_is_in_the_table():
    bullet = MESSAGING[MESSAGING.index("- Telemetry spans:") :].split("\n- ", 1)[0]
    named = set(re.findall(r"`((?:relay|messaging)\.[a-z_]+)`", bullet))
    spans = {"messaging.webhook", "messaging.customer_event", "messaging.relay"}
    assert named - spans and named - spans <= set(telemetry.METRICS)
    for dimension in ("conversationId", "direction", "seq", "eventName"):
        assert f"`{dimension}`" in bullet


@pytest.mark.parametrize("name", sorted(telemetry.METRICS))
def test_every_metric_is_recorded_with_every_dimension(recorded, name):
    _spans, reader = recorded
    metric = telemetry.METRICS[name]
    dimensions = {dimension: f"v-{dimension}" for dimension in metric.dimensions}
    if name == telemetry.E2E_LATENCY:
        telemetry.record_e2e_latency(12.5, **dimensions)
    elif metric.kind is telemetry.Kind.HISTOGRAM:
        system = next(s for s, n in telemetry.UPSTREAM_HISTOGRAMS.items() if n == name)
        telemetry.record_upstream_request(12.5, system=system, **dimensions)
    else:
        telemetry.count(name, **dimensions)
    [point] = metric_points(reader)[name]
    assert dict(point.attributes) == dimensions


def test_an_unlisted_metric_or_dimension_is_an_error_not_a_silent_drop(recorded):
    with pytest.raises(telemetry.UnknownMetric):
        telemetry.count("relay.something_new")
    with pytest.raises(telemetry.UnknownMetric):
        telemetry.count("relay.to_rep", kind="message", text="never a metric dimension")


def test_unconfigured_telemetry_still_refuses_an_unlisted_metric():
    """So a test without exporters finds a typo the deployed app would otherwise drop."""
    process.close_all()
    with pytest.raises(telemetry.UnknownMetric):
        telemetry.count("handoffs.acepted")


def test_spans_keep_the_relay_dimensions(recorded):
    spans, _reader = recorded
    promised = {key: f"v-{key}" for key in SPAN_DIMENSIONS_PROMISED}
    with telemetry.span("messaging.relay", None, "consumer", **promised, text="never on a span") as span:
        span.set_attribute("outcome", "sent")
    [finished] = spans.get_finished_spans()
    assert {**promised, "outcome": "sent"} == dict(finished.attributes)


def _metric_calls() -> list[tuple[str, str, set[str]]]:
    """(where, metric name, dimension names) for every telemetry.count(...) with a literal name."""
    calls = []
    for folder in APP_FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "count"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "telemetry"
                ):
                    first = node.args[0] if node.args else None
                    names = (
                        [first.value]
                        if isinstance(first, ast.Constant)
                        else [
                            c.value
                            for c in ast.walk(first)
                            if isinstance(c, ast.Constant) and isinstance(c.value, str)
                        ]
                        if first is not None
                        else []
                    )
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    calls.extend((where, name, {k.arg for k in node.keywords if k.arg}) for name in names)
    return calls


def test_every_call_site_names_a_listed_metric_with_its_dimensions():
    calls = _metric_calls()
    assert {name for _, name, _ in calls} >= {
        "handoffs.created",
        "relay.dead_lettered",
        "messaging.activities",
    }
    for where, name, dimensions in calls:
        assert name in telemetry.METRICS, f"{where}: {name} is not in telemetry.METRICS"
        assert dimensions <= telemetry.METRICS[name].dimensions, f"{where}: {name} {dimensions}"
