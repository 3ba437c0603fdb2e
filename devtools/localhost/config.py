"""What the runner reads before it starts (host.json queue options, local.settings.json, %SETTING%s, the
app's functions with their binding metadata), and calling a function the way the host does."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
import secrets
import threading
import time
import weakref
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import azure.functions as func

# One logger for the whole runner: tests and the stack's log file read its lines by this name.
logger = logging.getLogger("devtools.localhost")
_SETTING = re.compile(r"%([^%]+)%")
# app.get_functions() may run only once per app object; the runner and the tests both need it.
_FUNCTIONS: weakref.WeakKeyDictionary[func.FunctionApp, list[Any]] = weakref.WeakKeyDictionary()


def parse_timespan(text: str) -> float:
    """host.json timespans ("00:00:30", "1.00:00:00") in seconds."""
    days, _, clock = text.partition(".") if "." in text.split(":", 1)[0] else ("0", "", text)
    hours, minutes, seconds = clock.split(":")
    return int(days) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueOptions:
    """host.json extensions.queues, with the host's defaults for anything left out."""

    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    @classmethod
    def from_host_json(cls, path: Path | None) -> QueueOptions:
        if path is None or not path.exists():
            return cls()
        queues = json.loads(path.read_text()).get("extensions", {}).get("queues", {})
        names = ("maxPollingInterval", "visibilityTimeout")
        spans = {k: parse_timespan(str(queues[k])) for k in names if queues.get(k) is not None}
        batch_size = int(queues.get("batchSize", cls.batch_size))
        return cls(
            max_polling_interval=spans.get("maxPollingInterval", cls.max_polling_interval),
            visibility_timeout=spans.get("visibilityTimeout", cls.visibility_timeout),
            batch_size=batch_size,
            new_batch_threshold=int(queues.get("newBatchThreshold", batch_size // 2)),  # host default
            max_dequeue_count=int(queues.get("maxDequeueCount", cls.max_dequeue_count)),
            message_encoding=str(queues.get("messageEncoding", cls.message_encoding)).lower(),
        )

    @property
    def lease_seconds(self) -> int:
        """How long a received message stays invisible; renewed at half-time while it runs."""
        return max(1, round(self.visibility_timeout) or 30)


def resolve_setting(value: str, environ: Mapping[str, str]) -> str:
    """Replace %NAME% with the app setting NAME, as the host does for binding expressions."""
    if missing := [m[1] for m in _SETTING.finditer(value) if m[1] not in environ]:
        raise KeyError(f"app setting {missing[0]} (used as %{missing[0]}%) is not set")
    return _SETTING.sub(lambda m: environ[m[1]], value)


def load_local_settings(path: Path, environ: MutableMapping[str, str] = os.environ) -> int:
    """Copy local.settings.json Values into the environment without overriding, like `func start`."""
    values = json.loads(path.read_text()).get("Values", {}) if path.exists() else {}
    added = {k: str(v) for k, v in values.items() if k not in environ and v is not None}
    environ.update(added)
    return len(added)


def app_functions(app: func.FunctionApp) -> list[Any]:
    if app not in _FUNCTIONS:
        _FUNCTIONS[app] = list(app.get_functions())
    return _FUNCTIONS[app]


def enum_value(value: Any) -> str:
    """Binding metadata holds enums or plain strings depending on the decorator; compare as text."""
    return str(getattr(value, "value", value) or "")


def binding_type(function: Any) -> str:
    """The trigger's binding type as function.json spells it ("httpTrigger", "queueTrigger")."""
    return enum_value(function.get_trigger().get_binding_name())


def invoke(
    function: Any, trigger_arg: str, value: Any, invocation_id: str, traceparent: str | None = None
) -> tuple[str, Any]:
    """Call the user function (with `context` when it asks for one): ("ok", its result), or
    ("failed", None) once the exception is logged. The caller writes the invocation line."""
    name, user = function.get_function_name(), function.get_user_function()
    kwargs: dict[str, Any] = {trigger_arg: value}
    if "context" in inspect.signature(user).parameters:  # what the host passes, enough for ids and the trace
        trace_parent = traceparent or f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        trace = SimpleNamespace(trace_parent=trace_parent, trace_state="", attributes={})
        ids = {"invocation_id": invocation_id, "function_name": name, "function_directory": str(Path.cwd())}
        rest = {"trace_context": trace, "retry_context": None, "thread_local_storage": threading.local()}
        kwargs["context"] = SimpleNamespace(**ids, **rest)
    try:
        result = user(**kwargs)
        return "ok", asyncio.run(result) if inspect.iscoroutine(result) else result
    except Exception:
        logger.exception("function %s failed (invocation %s)", name, invocation_id)
        return "failed", None


def log_invocation(name: str, call_id: str, started: float, outcome: str) -> None:
    level = logging.INFO if outcome == "ok" else logging.WARNING
    ms = round((time.monotonic() - started) * 1000)
    logger.log(level, "invocation function=%s id=%s durationMs=%d outcome=%s", name, call_id, ms, outcome)
