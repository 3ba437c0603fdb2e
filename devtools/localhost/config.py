"""What the runner reads before it starts: host.json queue options, local.settings.json, %SETTING%s,
and the app's functions with their binding metadata."""

from __future__ import annotations

import json
import os
import re
import weakref
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func

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

    def lookup(match: re.Match[str]) -> str:
        if match.group(1) not in environ:
            raise KeyError(f"app setting {match.group(1)} (used as {match.group(0)}) is not set")
        return environ[match.group(1)]

    return _SETTING.sub(lookup, value)


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
