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
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("handoff_bridge.telemetry")
LOGGER_NAME = "handoff_bridge"
COUNTERS = (
    "handoffs.accepted",
    "handoffs.created",
    "handoffs.retried",
    "handoffs.throttled",
    "handoffs.duplicate",
    "handoffs.dead_lettered",
)
E2E_LATENCY = "handoff.e2e_latency_ms"
# One request-latency histogram per upstream (alerts and the workbook query these names).
UPSTREAM_HISTOGRAMS = {
    "dataverse": "dataverse.request_ms",
    "opencx": "opencx.request_ms",
    "messaging": "messaging.request_ms",
}
# Only these attributes ever reach a span or a metric: ids and outcomes, never customer data.
ALLOWED_ATTRIBUTES = frozenset(
    {
        "handoffId",
        "sessionId",
        "channel",
        "attempt",
        "outcome",
        "status",
        "operation",
        "reason",
        "errorCode",
        "target",
    }
)


@dataclass
class _Instruments:
    tracer: Any
    counters: dict[str, Any]
    e2e_latency: Any
    upstream_latency: dict[str, Any]


_lock = threading.Lock()
_instruments: _Instruments | None = None
_decided = False


def _build(tracer_provider: Any = None, meter_provider: Any = None) -> _Instruments:
    from opentelemetry import metrics, trace

    tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(LOGGER_NAME)
    meter = (meter_provider or metrics.get_meter_provider()).get_meter(LOGGER_NAME)
    return _Instruments(
        tracer=tracer,
        counters={name: meter.create_counter(name, unit="1") for name in COUNTERS},
        e2e_latency=meter.create_histogram(E2E_LATENCY, unit="ms"),
        upstream_latency={
            system: meter.create_histogram(name, unit="ms") for system, name in UPSTREAM_HISTOGRAMS.items()
        },
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


def _active() -> _Instruments | None:
    """The instruments, set up once per process; None when telemetry is not configured."""
    global _instruments, _decided
    if _decided:
        return _instruments
    with _lock:
        if not _decided:
            if os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
                try:
                    _instruments = _configure_azure_monitor()
                except Exception as exc:  # telemetry must never stop the bridge
                    logger.warning("telemetry.unavailable %s", type(exc).__name__)
            _decided = True
    return _instruments


def install(tracer_provider: Any, meter_provider: Any) -> None:
    """Use these providers (tests: in-memory exporters) instead of Azure Monitor."""
    global _instruments, _decided
    with _lock:
        _instruments = _build(tracer_provider, meter_provider)
        _decided = True


def reset() -> None:
    global _instruments, _decided
    with _lock:
        _instruments, _decided = None, False


def _attributes(dimensions: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value if isinstance(value, bool | int | float) else str(value)
        for key, value in dimensions.items()
        if key in ALLOWED_ATTRIBUTES and value is not None
    }


def count(name: str, **dimensions: Any) -> None:
    instruments = _active()
    if instruments is None:
        return
    with contextlib.suppress(Exception):
        instruments.counters[name].add(1, _attributes(dimensions))


def record_e2e_latency(milliseconds: float, **dimensions: Any) -> None:
    instruments = _active()
    if instruments is None:
        return
    with contextlib.suppress(Exception):
        instruments.e2e_latency.record(milliseconds, _attributes(dimensions))


def record_upstream_request(milliseconds: float, *, system: str, **dimensions: Any) -> None:
    instruments = _active()
    if instruments is None or system not in instruments.upstream_latency:
        return
    with contextlib.suppress(Exception):
        instruments.upstream_latency[system].record(milliseconds, _attributes(dimensions))


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
            with contextlib.suppress(Exception):
                self.span.set_attribute(key, value if isinstance(value, bool | int | float) else str(value))

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
