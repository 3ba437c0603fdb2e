"""Helpers for the worker tests: build a queue message, run worker.handle, read what it left behind."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import queue_messages, reset_process_caches, sample_event

from shared.dynamics.dataverse import dataverse_client
from shared.opencx.client import opencx_client
from shared.opencx.handoff_message import HandoffMessage, build_message, parse_message
from shared.opencx.webhook import parse_event
from shared.platform.settings import get_settings
from shared.platform.status_store import StoreProfile, get_row


@dataclass
class Sent:
    text: str
    visibility_timeout: int | None


@dataclass
class Requeued:
    """Spy on the worker's re-enqueue: the real send still happens, the test also sees the delay
    (a delayed message is invisible to peek)."""

    sent: list[Sent] = field(default_factory=list)

    def messages(self) -> list[HandoffMessage]:
        return [parse_message(s.text) for s in self.sent]


def spy_requeue(monkeypatch: pytest.MonkeyPatch) -> Requeued:
    import retry_queue.worker as worker

    spy = Requeued()
    real = worker.send

    def send(client: Any, text: str, **kwargs: Any) -> None:
        spy.sent.append(Sent(text, kwargs.get("visibility_timeout")))
        real(client, text, **kwargs)

    monkeypatch.setattr(worker, "send", send)
    return spy


def settings_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    reset_process_caches()


def message_for(
    body: dict | None = None, handoff_id: str = "h_1", received_at: datetime | None = None, **fields: Any
) -> HandoffMessage:
    message = build_message(
        handoff_id, parse_event(body or sample_event()), received_at or datetime.now(UTC), None
    )
    return message.model_copy(update=fields) if fields else message


def handle(message: HandoffMessage) -> str:
    from retry_queue.worker import handle as worker_handle

    return worker_handle(message, get_settings(), opencx_client(), dataverse_client())


def deadletters(env: dict[str, str]) -> list[dict[str, Any]]:
    return [
        json.loads(t)
        for t in queue_messages(env["AzureWebJobsStorage"], env["HANDOFF_QUEUE"] + "-deadletter")
    ]


def status_of(message: HandoffMessage) -> dict[str, Any] | None:
    return get_row(message.event.conversation_id, message.handoffId, StoreProfile.WORKER)


def dataverse_calls(sim: Any) -> Counter[str]:
    return Counter(record.operation for record in sim.requests)


def opencx_calls(sim: Any) -> Counter[str]:
    return Counter(record.operation for record in sim.requests)
