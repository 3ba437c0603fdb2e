"""Telemetry with in-memory exporters: dimensions present, one trace across the queue hop, no PII."""

import json
import logging
import subprocess
import sys

import azure.functions as func
import pytest
from helpers import ROOT, function_named, metric_points, sample_event
from logs import logged, own_records
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devtools.opencx_sim import SMS_SESSION_ID
from shared.platform import process, telemetry

PII = ("4155550123", "415) 555", "dana", "Dana Reyes", "order 1182", "Friday", "priya")


@pytest.fixture
def exporters():
    spans, reader, logs = InMemorySpanExporter(), InMemoryMetricReader(), InMemoryLogExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    handler = LoggingHandler(logger_provider=logger_provider)
    bridge_logger = logging.getLogger(telemetry.LOGGER_NAME)
    bridge_logger.addHandler(handler)
    previous_level = bridge_logger.level
    bridge_logger.setLevel(logging.INFO)
    telemetry.install(tracer_provider, MeterProvider(metric_readers=[reader]))
    yield spans, reader, logs
    bridge_logger.removeHandler(handler)
    bridge_logger.setLevel(previous_level)
    process.close_all()


def run_one_handoff(bridge_env):
    body = json.dumps(sample_event()).encode()
    request = func.HttpRequest(
        method="POST",
        url="/api/handoffs",
        headers={"content-type": "application/json", "webhook-id": "msg_otel"},
        body=body,
    )
    assert function_named("handoff_trigger")(request, None).status_code == 202
    from helpers import queue_messages

    [text] = queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])
    function_named("retry_queue")(func.queue.QueueMessage(id="q1", body=text.encode(), dequeue_count=1))


def test_one_trace_crosses_the_queue_hop_with_dimensions(bridge_env, dataverse, opencx, exporters):
    spans, _reader, _logs = exporters
    dataverse.add_contact(mobilephone="+14155550123", fullname="Dana Reyes")
    run_one_handoff(bridge_env)
    by_name = {span.name: span for span in spans.get_finished_spans()}
    ingress, deliver = by_name["handoff.ingress"], by_name["handoff.deliver"]
    assert deliver.context.trace_id == ingress.context.trace_id
    assert deliver.parent.span_id == ingress.context.span_id
    for span in (ingress, deliver):
        for key in ("handoffId", "sessionId", "outcome"):
            assert key in span.attributes, (span.name, key)
    assert deliver.attributes["attempt"] == 0
    assert deliver.attributes["channel"] == "sms"  # learnt from OpenCX inside the span
    assert deliver.attributes["outcome"] == "created"
    assert deliver.attributes["handoffId"] == ingress.attributes["handoffId"] == "msg_otel"
    assert (
        ingress.attributes["outcome"] == "enqueued"
    )  # the span says what ingress did; the log says accepted
    dataverse_spans = [s for s in spans.get_finished_spans() if s.name.startswith("dataverse ")]
    assert {s.name for s in dataverse_spans} == {"dataverse contact_lookup", "dataverse create_work_item"}
    opencx_spans = [s for s in spans.get_finished_spans() if s.name.startswith("opencx ")]
    assert sorted(s.name for s in opencx_spans) == ["opencx get_session", "opencx list_history"]
    assert all(s.parent.span_id == deliver.context.span_id for s in dataverse_spans + opencx_spans)


def test_metrics_count_the_handoff_and_its_latencies(bridge_env, dataverse, opencx, exporters):
    _spans, reader, _logs = exporters
    run_one_handoff(bridge_env)
    points = metric_points(reader)
    assert sum(p.value for p in points["handoffs.accepted"]) == 1
    assert sum(p.value for p in points["handoffs.created"]) == 1
    assert sum(p.count for p in points["handoff.e2e_latency_ms"]) == 1
    statuses = {p.attributes["status"] for p in points["dataverse.request_ms"]}
    assert statuses == {200, 204}
    opencx_calls = {p.attributes["operation"]: p.count for p in points["opencx.request_ms"]}
    assert opencx_calls == {"get_session": 1, "list_history": 1}
    assert "handoffs.dead_lettered" not in points and "handoffs.throttled" not in points


def test_no_pii_in_any_span_metric_or_log_attribute(bridge_env, dataverse, opencx, exporters):
    spans, reader, logs = exporters
    run_one_handoff(bridge_env)
    exported = [dict(s.attributes) for s in spans.get_finished_spans()]
    exported += [dict(p.attributes) for values in metric_points(reader).values() for p in values]
    records = logs.get_finished_logs()
    assert records, "the handoff_bridge logger exported nothing"
    exported += [{**dict(r.log_record.attributes or {}), "body": r.log_record.body} for r in records]
    text = json.dumps(exported, default=str)
    for pii in PII:
        assert pii.lower() not in text.lower(), pii
    accepted = [r for r in records if (r.log_record.attributes or {}).get("event") == "handoff.accepted"]
    assert accepted and accepted[0].log_record.attributes["sessionId"] == SMS_SESSION_ID
    created = [r for r in records if (r.log_record.attributes or {}).get("event") == "handoff.created"]
    assert len(created) == 1


def test_unconfigured_telemetry_imports_nothing_and_does_nothing():
    script = (
        "import sys, function_app, handoff_trigger.ingress, retry_queue.worker\n"
        "from shared.platform import telemetry\n"
        "with telemetry.span('x', None) as span: span.set_attribute('outcome', 'ok')\n"
        "telemetry.count('handoffs.accepted')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'azure.monitor'))))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_broken_configuration_fails_nothing(bridge_env, dataverse, opencx, monkeypatch, caplog):
    process.close_all()
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "not a connection string")
    try:
        run_one_handoff(bridge_env)
    finally:
        process.close_all()
    assert len(dataverse.work_items) == 1
    assert logged(own_records(caplog), "telemetry.unavailable")
