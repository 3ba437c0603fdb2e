"""The bridge in mode `messaging`, in process: the local runner's HTTP front and queue listeners
(function_app.app), Azurite, the OpenCX simulator and the Messaging API simulator whose scripted
rep posts to the runner's webhook. Import the fixture into a test module:

    from messaging_helpers import messaging_bridge_fixture  # noqa: F401
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from helpers import reset_process_caches

FUNCTION_KEY = "messaging-test-function-key"


@dataclass
class MessagingBridge:
    sim: Any  # MessagingSimulator
    opencx: Any  # OpenCXSimulator
    host: Any  # LocalHost
    env: dict[str, str]

    @property
    def storage(self) -> str:
        from shared.platform.settings import STORAGE_SETTING

        return os.environ[STORAGE_SETTING]

    @property
    def deps(self) -> Any:
        """The process's relay dependencies (the runner's functions use the same)."""
        from shared.messaging.deps import process_deps

        return process_deps()

    @property
    def url(self) -> str:
        return self.host.url

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/api/messaging"

    def activity_url(self, conversation_id: str) -> str:
        return f"{self.webhook_url}/v3/conversations/{conversation_id}/activities"

    def post_event(self, body: dict[str, Any]) -> requests.Response:
        """An OpenCX webhook delivery to POST /api/handoffs."""
        return requests.post(
            f"{self.url}/api/handoffs", json=body, headers={"x-functions-key": FUNCTION_KEY}, timeout=15
        )

    def handoff(self, session_id: str, **options: Any) -> str:
        """Hand the session off and wait for its conversation; returns the conversation id."""
        answer = self.post_event(self.opencx.handoff_event(session_id, **options))
        assert answer.status_code in (200, 202), answer.text
        return self.wait_conversation(session_id)

    def wait_conversation(self, session_id: str, timeout: float = 20.0) -> str:
        found: list[str] = []

        def mapped() -> bool:
            link = self.deps.links.by_session(session_id)
            if link is not None:
                found.append(link.conversation_id)
            return bool(found)

        wait_for(mapped, timeout, f"a conversation for {session_id}")
        return found[0]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def reset_messaging_caches() -> None:
    reset_process_caches()  # closes the relay's set too: its fast-path drains finish first


@pytest.fixture(name="messaging_bridge")
def messaging_bridge_fixture(
    opencx: Any, bridge_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[MessagingBridge]:
    import function_app
    from devtools.azurite import free_port
    from devtools.localhost import LocalHost, QueueOptions
    from devtools.messaging_sim import MessagingSimulator

    port = free_port()
    sim = MessagingSimulator(webhook_url=f"http://127.0.0.1:{port}/api/messaging").start()
    sim.webhook_retry_pause = 0.2
    suffix = uuid.uuid4().hex[:10]
    env = {
        **sim.env(),
        "DELIVERY_MODE": "messaging",
        "MESSAGING_QUEUE": f"relay-{suffix}",
        "MESSAGING_TABLE": f"relay{suffix}",
        "HANDOFF_STATUS_TABLE": f"status{suffix}",
        "LOCAL_FUNCTION_KEY": FUNCTION_KEY,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    reset_messaging_caches()
    options = QueueOptions(
        max_polling_interval=0.1, visibility_timeout=5.0, batch_size=8, new_batch_threshold=4
    )
    host = LocalHost(function_app.app, options, port, function_key=FUNCTION_KEY, environ=os.environ).start()
    try:
        yield MessagingBridge(sim, opencx, host, {**bridge_env, **env})
    finally:
        sim.rep.auto_reply = False
        host.stop(5)
        sim.stop()
        reset_messaging_caches()


def queue_is_empty(connection: str, queue: str) -> bool:
    from helpers import queue_messages

    return queue_messages(connection, queue) == []
