"""What the runner reads before it starts: host.json queue options, local.settings.json, %SETTING%s.

Also the app's function list, because `app.get_functions()` may run only once per app object and
both the runner and the tests need it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func

_SETTING = re.compile(r"%([^%]+)%")
_FUNCTIONS_CACHE: dict[int, tuple[Any, list[Any]]] = {}


def parse_timespan(text: str) -> float:
    """host.json timespans ("00:00:30", "1.00:00:00") in seconds."""
    days = 0
    if "." in text.split(":", 1)[0]:
        day_text, text = text.split(".", 1)
        days = int(day_text)
    hours, minutes, seconds = text.split(":")
    return days * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


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
        defaults = cls()
        batch_size = int(queues.get("batchSize", defaults.batch_size))
        return cls(
            max_polling_interval=_span(queues, "maxPollingInterval", defaults.max_polling_interval),
            visibility_timeout=_span(queues, "visibilityTimeout", defaults.visibility_timeout),
            batch_size=batch_size,
            new_batch_threshold=int(queues.get("newBatchThreshold", batch_size // 2)),  # host default
            max_dequeue_count=int(queues.get("maxDequeueCount", defaults.max_dequeue_count)),
            message_encoding=str(queues.get("messageEncoding", defaults.message_encoding)).lower(),
        )

    @property
    def lease_seconds(self) -> int:
        """How long a received message stays invisible; renewed at half-time while it runs."""
        return max(1, round(self.visibility_timeout) or 30)


def _span(queues: Mapping[str, Any], name: str, default: float) -> float:
    value = queues.get(name)
    return default if value is None else parse_timespan(str(value))


def resolve_setting(value: str, environ: Mapping[str, str]) -> str:
    """Replace %NAME% with the app setting NAME, as the host does for binding expressions."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise KeyError(f"app setting {name} (used as %{name}%) is not set")
        return environ[name]

    return _SETTING.sub(lookup, value)


def load_local_settings(path: Path, environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """Copy local.settings.json Values into the environment without overriding, like `func start`."""
    if not path.exists():
        return 0
    values = json.loads(path.read_text()).get("Values", {})
    added = 0
    for name, value in values.items():
        if name not in environ and value is not None:
            environ[name] = str(value)
            added += 1
    return added


def app_functions(app: func.FunctionApp) -> list[Any]:
    """app.get_functions() may run only once per app object, so the result is cached here."""
    cached = _FUNCTIONS_CACHE.get(id(app))
    if cached is None or cached[0] is not app:
        cached = (app, list(app.get_functions()))
        _FUNCTIONS_CACHE[id(app)] = cached
    return cached[1]


def enum_value(value: Any) -> str:
    """Binding metadata holds enums or plain strings depending on the decorator; compare as text."""
    return str(getattr(value, "value", value) or "")


def binding_type(function: Any) -> str:
    """The trigger's binding type as function.json spells it ("httpTrigger", "queueTrigger")."""
    return enum_value(function.get_trigger().get_binding_name())
