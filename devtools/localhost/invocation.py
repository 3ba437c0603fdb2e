"""Calling a user function the way the host does, and the runner's one line per invocation."""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
import threading
import time
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


def invoke(
    function: Any, trigger_arg: str, value: Any, invocation_id: str, traceparent: str | None = None
) -> tuple[str, Any]:
    """Call the user function (with `context` when it asks for one): ("ok", its result), or
    ("failed", None) once the exception is logged. The caller writes the invocation line."""
    name = function.get_function_name()
    user = function.get_user_function()
    kwargs: dict[str, Any] = {trigger_arg: value}
    if "context" in inspect.signature(user).parameters:
        trace = traceparent or f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        kwargs["context"] = InvocationContext(invocation_id, name, str(Path.cwd()), TraceContext(trace))
    try:
        result = user(**kwargs)
        return "ok", asyncio.run(result) if inspect.iscoroutine(result) else result
    except Exception:
        logger.exception("function %s failed (invocation %s)", name, invocation_id)
        return "failed", None


def log_invocation(name: str, invocation_id: str, started: float, outcome: str) -> None:
    """One line per invocation: function, id, duration, outcome."""
    logger.log(
        logging.INFO if outcome == "ok" else logging.WARNING,
        "invocation function=%s id=%s durationMs=%d outcome=%s",
        name,
        invocation_id,
        round((time.monotonic() - started) * 1000),
        outcome,
    )
