"""Calling a user function the way the host does, and the runner's one line per invocation."""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# One logger for the whole runner: tests and the stack's log file read its lines by this name.
logger = logging.getLogger("devtools.localhost")


@dataclass
class TraceContext:
    trace_parent: str
    trace_state: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class InvocationContext:
    """What the host passes as `context`: enough for code that reads ids and the trace."""

    invocation_id: str
    function_name: str
    function_directory: str
    trace_context: TraceContext
    retry_context: None = None
    thread_local_storage: threading.local = field(default_factory=threading.local)


def call_user_function(function: Any, trigger_arg: str, value: Any, traceparent: str | None = None) -> Any:
    """Call the user function with its trigger argument and `context` when it asks for one."""
    user = function.get_user_function()
    kwargs: dict[str, Any] = {trigger_arg: value}
    if "context" in inspect.signature(user).parameters:
        kwargs["context"] = InvocationContext(
            invocation_id=str(uuid.uuid4()),
            function_name=function.get_function_name(),
            function_directory=str(Path.cwd()),
            trace_context=TraceContext(
                traceparent or f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
            ),
        )
    result = user(**kwargs)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return result


def log_invocation(name: str, invocation_id: str, started: float, outcome: str) -> None:
    """One line per invocation: function, id, duration, outcome."""
    duration_ms = round((time.monotonic() - started) * 1000)
    level = logging.INFO if outcome == "ok" else logging.WARNING
    logger.log(
        level,
        "invocation function=%s id=%s durationMs=%d outcome=%s",
        name,
        invocation_id,
        duration_ms,
        outcome,
    )
