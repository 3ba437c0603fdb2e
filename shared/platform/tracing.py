"""W3C trace context for the queue hop, so ingress and worker join in one transaction."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def is_traceparent(value: str | None) -> bool:
    return bool(value) and bool(_TRACEPARENT.match(value or "")) and "0" * 32 not in (value or "")


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def current_traceparent(headers: Mapping[str, str], context: Any = None) -> str:
    """The invocation's trace (host-provided), else the caller's, else a fresh one."""
    trace_context = getattr(context, "trace_context", None)
    for candidate in (getattr(trace_context, "trace_parent", None), headers.get("traceparent")):
        if is_traceparent(candidate):
            return str(candidate)
    return new_traceparent()
