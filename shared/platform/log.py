"""Structured, PII-safe logging for handoffs.

Each record carries its dimensions as LogRecord attributes: the Functions host and
azure-monitor-opentelemetry turn them into queryable custom dimensions. Values pass through the
masking here, so a call site cannot leak a phone number or an email by mistake, and every string
value is escaped (shared/platform/text.py: control, format and Unicode line-break characters), so
one record is one line even to a reader that splits on U+2028 or U+0085.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.platform.masking import mask_email, mask_phone, scrub_text
from shared.platform.text import escape_for_log

_MASKERS = {
    "phone": mask_phone,
    "customerPhone": mask_phone,
    "email": mask_email,
    "customerEmail": mask_email,
}
# Fields whose content is customer text: only their length may be logged.
_NEVER_LOGGED = frozenset(
    {
        "summary",
        "transcript",
        "description",
        "subject",
        "token",
        "secret",
        "body",
        "text",
        "name",
        "customerName",
    }
)
# Identifiers we mint or receive as opaque ids: logged as they are, so operators can query them.
_IDENTIFIERS = frozenset(
    {
        "handoffId",
        "sessionId",
        "dynamics365_chat_id",
        "dynamics365_incident_id",
        "duplicate_of",
        "ticketnumber",
        "conversationId",
        "contactId",
        "event",
    }
)
# LogRecord's own attributes: a dimension of the same name would make logging raise. `event` is
# the record's own event name, which operators query: a dimension of that name must not replace it.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "event"}


def safe_dimensions(dimensions: dict[str, Any]) -> dict[str, Any]:
    """Mask known PII fields, drop customer text, scrub any other string."""
    safe: dict[str, Any] = {}
    for key, value in dimensions.items():
        if value is None:
            continue
        if key in _NEVER_LOGGED:
            safe[f"{key}Length"] = len(value) if isinstance(value, str | list) else None
        elif key in _IDENTIFIERS:
            safe[key] = escape_for_log(str(value))
        elif key in _MASKERS:
            safe[key] = escape_for_log(_MASKERS[key](str(value)) or "")  # a mask keeps a tld
        elif isinstance(value, bool | int | float):
            safe[key] = value
        else:
            safe[key] = escape_for_log(scrub_text(str(value)))
    return safe


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, /, **dimensions: Any) -> None:
    """Log `event` (a stable dotted name such as `handoff.accepted`) with masked dimensions.

    The first three are positional-only, so a dimension may be named `level` or `event`."""
    safe = {
        (f"{key}_" if key in _RESERVED else key): value for key, value in safe_dimensions(dimensions).items()
    }
    rendered = " ".join(f"{key}={value}" for key, value in safe.items())
    logger.log(level, "%s %s", event, rendered, extra={"event": event, **safe})


# Third-party loggers that speak at INFO on every call: the Azure SDK's HTTP policy (each storage
# request) and azure-identity (each token). Nothing secret, but noise that App Insights bills for.
for _noisy in ("azure.core.pipeline.policies.http_logging_policy", "azure.identity"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


def get_logger(component: str) -> logging.Logger:
    return logging.getLogger(f"handoff_bridge.{component}")
