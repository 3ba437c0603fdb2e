"""Telemetry to Application Insights through azure-monitor-opentelemetry, only when configured.

Without APPLICATIONINSIGHTS_CONNECTION_STRING (locally, in tests) every call here returns at once
and OpenTelemetry is never imported. With it, the distro is set up on first use with the managed
identity (the Bicep disables local auth), our `handoff_bridge` log records are exported with their
dimensions as custom dimensions, and spans and metrics follow the handoff across the queue hop.

What it never does: export a URL query (a contact lookup's holds phones and emails), so the
requests/urllib3 auto-instrumentation is off and Dataverse calls get spans of our own. Telemetry
failing never fails a handoff.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.platform.process import shared_plain

logger = logging.getLogger("handoff_bridge.telemetry")
LOGGER_NAME = "handoff_bridge"


class Kind(StrEnum):
    COUNTER = "counter"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class Metric:
    """One metric the alerts, the workbook and the docs rely on, with the dimensions it carries."""

    name: str
    kind: Kind
    unit: str
    dimensions: frozenset[str]


def _metric(name: str, kind: Kind, *dimensions: str) -> Metric:
    return Metric(name, kind, "ms" if kind is Kind.HISTOGRAM else "1", frozenset(dimensions))


# Every metric, once: docs/operations.md's metrics table lists exactly these (tests/shared/platform/
# test_telemetry_catalogue.py), and every call site names one of them with its dimensions.
METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        _metric("handoffs.accepted", Kind.COUNTER),
        _metric("handoffs.created", Kind.COUNTER, "channel"),
        _metric("handoffs.duplicate", Kind.COUNTER, "channel"),
        _metric("handoffs.retried", Kind.COUNTER, "target"),
        _metric("handoffs.throttled", Kind.COUNTER, "target"),
        _metric("handoffs.dead_lettered", Kind.COUNTER, "reason", "target"),
        _metric("relay.to_customer", Kind.COUNTER, "kind", "already"),
        _metric("relay.to_rep", Kind.COUNTER, "kind", "already"),
        _metric("relay.retried", Kind.COUNTER, "target", "failure"),
        _metric("relay.continued", Kind.COUNTER),
        _metric("relay.reconciled", Kind.COUNTER, "atEnd"),
        _metric("relay.reconcile_sweeps", Kind.COUNTER),
        _metric("relay.dead_lettered", Kind.COUNTER, "reason", "target"),
        _metric("messaging.activities", Kind.COUNTER, "outcome", "kind"),
        _metric("media.relayed", Kind.COUNTER, "target", "how"),
        _metric("media.refused", Kind.COUNTER, "target", "reason"),
        _metric("concierge.availability", Kind.COUNTER, "outcome", "reason"),
        _metric("concierge.notices", Kind.COUNTER, "kind", "outcome"),
        _metric("concierge.position_refreshes", Kind.COUNTER, "outcome"),
        _metric("handoff.e2e_latency_ms", Kind.HISTOGRAM, "channel"),
        _metric("dataverse.request_ms", Kind.HISTOGRAM, "operation", "status"),
        _metric("opencx.request_ms", Kind.HISTOGRAM, "operation", "status"),
        _metric("messaging.request_ms", Kind.HISTOGRAM, "operation", "status"),
    )
}
COUNTERS = tuple(name for name, metric in METRICS.items() if metric.kind is Kind.COUNTER)
E2E_LATENCY = "handoff.e2e_latency_ms"
# One request-latency histogram per upstream (alerts and the workbook query these names).
UPSTREAM_HISTOGRAMS = {
    "dataverse": "dataverse.request_ms",
    "opencx": "opencx.request_ms",
    "messaging": "messaging.request_ms",
}
# What a span may carry, besides a metric's dimensions: ids, positions and outcomes, never customer data.
SPAN_ATTRIBUTES = frozenset(
    {
        "handoffId",
        "sessionId",
        "conversationId",
        "channel",
        "direction",
        "seq",
        "attempt",
        "outcome",
        "status",
        "operation",
        "reason",
        "errorCode",
        "target",
        "eventName",
        "eventType",
        "activityKind",
        "entryKind",
    }
)
ALLOWED_ATTRIBUTES = SPAN_ATTRIBUTES | {d for metric in METRICS.values() for d in metric.dimensions}


@dataclass
class _Instruments:
    tracer: Any
    instruments: dict[str, Any]  # metric name -> its counter or histogram, all made up front


_KEY = "telemetry"  # its place in the process store (shared/platform/process.py)


def _build(tracer_provider: Any = None, meter_provider: Any = None) -> _Instruments:
    from opentelemetry import metrics, trace

    tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(LOGGER_NAME)
    meter = (meter_provider or metrics.get_meter_provider()).get_meter(LOGGER_NAME)
    create = {Kind.COUNTER: meter.create_counter, Kind.HISTOGRAM: meter.create_histogram}
    return _Instruments(
        tracer=tracer,
        instruments={name: create[metric.kind](name, unit=metric.unit) for name, metric in METRICS.items()},
    )


def _configure_azure_monitor() -> _Instruments:
    from azure.monitor.opentelemetry import configure_azure_monitor

    credential = None
    if "Authorization=AAD" in os.environ.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", ""):
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID") or None)
    configure_azure_monitor(
        connection_string=os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"],
        credential=credential,
        logger_name=LOGGER_NAME,
        instrumentation_options={name: {"enabled": False} for name in ("requests", "urllib3", "urllib")},
    )
    bridge_logger = logging.getLogger(LOGGER_NAME)
    if bridge_logger.level == logging.NOTSET:
        bridge_logger.setLevel(logging.INFO)  # the records operators query are INFO
    return _build()


def _decide() -> _Instruments | None:
    if not os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        return None
    try:
        return _configure_azure_monitor()
    except Exception as exc:  # telemetry must never stop the bridge
        logger.warning("telemetry.unavailable %s", type(exc).__name__)
        return None


def _active() -> _Instruments | None:
    """The instruments, set up once per process; None when telemetry is not configured."""
    return shared_plain(_KEY, _decide)


def install(tracer_provider: Any, meter_provider: Any) -> None:
    """Use these providers (tests: in-memory exporters) instead of Azure Monitor, until the process
    store is closed."""
    shared_plain(_KEY, lambda: _build(tracer_provider, meter_provider), fresh=True)


def _attributes(dimensions: dict[str, Any], allowed: frozenset[str] = ALLOWED_ATTRIBUTES) -> dict[str, Any]:
    return {
        key: value if isinstance(value, bool | int | float) else str(value)
        for key, value in dimensions.items()
        if key in allowed and value is not None
    }


class UnknownMetric(KeyError):
    """A call site named a metric METRICS does not list, or a dimension the metric does not carry:
    a bug, raised whether or not telemetry is configured so tests find it (never an outage)."""


def _record(name: str, kind: Kind, value: float, dimensions: dict[str, Any]) -> None:
    metric = METRICS.get(name)
    if metric is None or metric.kind is not kind:
        raise UnknownMetric(f"{name} is not a {kind} in telemetry.METRICS")
    extra = set(dimensions) - metric.dimensions
    if extra:
        raise UnknownMetric(f"{name} carries no dimension {sorted(extra)}: add it to telemetry.METRICS")
    instruments = _active()
    if instruments is None:
        return
    instrument = instruments.instruments[name]
    try:
        if kind is Kind.COUNTER:
            instrument.add(value, _attributes(dimensions, metric.dimensions))
        else:
            instrument.record(value, _attributes(dimensions, metric.dimensions))
    except Exception as exc:  # an exporter's failure must not fail a handoff, but it is said
        logger.warning("telemetry.record_failed metric=%s error=%s", name, type(exc).__name__)


def count(name: str, **dimensions: Any) -> None:
    _record(name, Kind.COUNTER, 1, dimensions)


def record_e2e_latency(milliseconds: float, **dimensions: Any) -> None:
    _record(E2E_LATENCY, Kind.HISTOGRAM, milliseconds, dimensions)


_unmeasured: set[str] = set()


def record_upstream_request(milliseconds: float, *, system: str, **dimensions: Any) -> None:
    name = UPSTREAM_HISTOGRAMS.get(system)
    if name is None:  # a client for an upstream the table does not name (a test's bare client): said once
        if system not in _unmeasured:
            _unmeasured.add(system)
            logger.warning("telemetry.unmeasured_upstream system=%s", system)
        return
    _record(name, Kind.HISTOGRAM, milliseconds, dimensions)


class _NoSpan:
    """What `span` yields when telemetry is off: accepts attributes, records nothing."""

    def set_attribute(self, _key: str, _value: Any) -> None:
        return None

    def traceparent(self) -> str | None:
        return None


class _Span:
    def __init__(self, span: Any) -> None:
        self.span = span

    def set_attribute(self, key: str, value: Any) -> None:
        if key in ALLOWED_ATTRIBUTES and value is not None:
            try:
                self.span.set_attribute(key, value if isinstance(value, bool | int | float) else str(value))
            except Exception as exc:  # said, never raised: a span must not fail a handoff
                logger.warning("telemetry.record_failed attribute=%s error=%s", key, type(exc).__name__)

    def traceparent(self) -> str | None:
        """This span as a W3C traceparent, to carry across the queue hop."""
        context = self.span.get_span_context()
        if not context.is_valid:
            return None
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


@contextlib.contextmanager
def span(
    name: str, parent_traceparent: str | None, kind: str = "internal", **dimensions: Any
) -> Iterator[Any]:
    """A span that continues `parent_traceparent` (the previous hop), with handoff dimensions."""
    instruments = _active()
    if instruments is None:
        yield _NoSpan()
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    # No traceparent: a child of whatever span is current (a Dataverse call inside a delivery).
    parent = (
        TraceContextTextMapPropagator().extract({"traceparent": parent_traceparent})
        if parent_traceparent
        else None
    )
    span_kind = {"server": SpanKind.SERVER, "consumer": SpanKind.CONSUMER, "client": SpanKind.CLIENT}.get(
        kind, SpanKind.INTERNAL
    )
    with instruments.tracer.start_as_current_span(
        name, context=parent, kind=span_kind, attributes=_attributes(dimensions)
    ) as current:
        yield _Span(current)
