"""Constants and helpers the tests share (importable: conftest puts tests/ on sys.path)."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "opencx"
V1_FIXTURES = ROOT / "tests" / "fixtures" / "v1"
TEST_OPENCX_KEY = "ocx_test_key_for_unit_tests"
WORKSTREAM_ID = "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"


def bridge_environment(storage_connection: str, queue: str, **overrides: str) -> dict[str, str]:
    """A complete, valid set of app settings for tests."""
    env = {
        "DATAVERSE_URL": "http://127.0.0.1:9",
        "DEFAULT_QUEUE_ID": WORKSTREAM_ID,
        "OPENCX_API_KEY": TEST_OPENCX_KEY,
        "OPENCX_API_URL": "http://127.0.0.1:9",
        "AzureWebJobsStorage": storage_connection,
        "HANDOFF_QUEUE": queue,
        "HANDOFF_MAX_ATTEMPTS": "10",
    }
    env.update(overrides)
    return env


def reset_process_caches() -> None:
    """Settings and clients are cached per process; tests that change settings reset them."""
    from shared.dynamics.dataverse import dataverse_client
    from shared.opencx.client import opencx_client
    from shared.platform import credentials
    from shared.platform.queues import queue_client
    from shared.platform.settings import get_settings
    from shared.platform.status_store import table_client

    credentials.reset()
    opencx_client.cache_clear()
    get_settings.cache_clear()
    table_client.cache_clear()
    queue_client.cache_clear()
    dataverse_client.cache_clear()


def queue_messages(storage_connection: str, queue: str) -> list[str]:
    """Every message text on a queue (base64-decoded), without consuming them. [] if no queue."""
    import base64

    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(storage_connection, queue)
    try:
        peeked = client.peek_messages(max_messages=32)
    except ResourceNotFoundError:
        return []
    return [base64.b64decode(message.content).decode("utf-8") for message in peeked]


@functools.cache
def _app_functions() -> dict:
    """function_app.app's functions by name. get_functions() may only be called once per app."""
    import function_app

    return {function.get_function_name(): function for function in function_app.app.get_functions()}


def function_named(name: str):
    """The user function the Functions host would invoke, found through function_app.app."""
    return _app_functions()[name].get_user_function()


def sample_event(name: str = "handoff-sms.json", **data_overrides: object) -> dict:
    """A real-shaped OpenCX webhook body from samples/opencx, `data` fields overridden."""
    import json

    body = json.loads((SAMPLES / name).read_text())
    data = body["data"][0] if isinstance(body["data"], list) else body["data"]
    data.update(data_overrides)
    body["data"] = data
    return body


def enqueue_handoff(
    storage_connection: str, queue: str, handoff_id: str, body: dict | None = None, **fields: object
) -> str:
    """Put a v2 queue message on the queue, as ingress would, and return its JSON."""
    from datetime import UTC, datetime

    from shared.opencx.webhook import parse_event
    from shared.platform.queue_message import build_message
    from shared.platform.queues import QueueProfile, make_queue_client, send
    from shared.platform.settings import StorageConnection

    message = build_message(handoff_id, parse_event(body or sample_event()), datetime.now(UTC), None)
    if fields:
        message = message.model_copy(update=fields)
    client = make_queue_client(StorageConnection(connection_string=storage_connection), queue, QueueProfile.WORKER)
    send(client, message.to_json())
    return message.to_json()


def run_like_host(
    storage_connection: str,
    queue: str,
    function,
    *,
    batch_size: int = 16,
    visibility_timeout: int = 5,
    max_dequeue_count: int = 5,
    until_idle_for: float = 3.0,
    deadline: float = 60.0,
    until=None,  # a callable returning True when the test has what it waits for
) -> dict[str, int]:
    """A small stand-in for the Functions host's queue listener: receive a batch, invoke each
    message concurrently with a QueueMessage carrying its dequeue count, delete on success, leave
    it to reappear on failure, and move it to <queue>-poison at max_dequeue_count. Returns counts."""
    import base64
    import time
    from concurrent.futures import ThreadPoolExecutor

    import azure.functions as func
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(storage_connection, queue)
    poison = QueueClient.from_connection_string(storage_connection, f"{queue}-poison")
    counts = {"invocations": 0, "failures": 0, "poisoned": 0}
    started = last_work = time.monotonic()

    def invoke(message) -> None:
        if message.dequeue_count > max_dequeue_count:
            with contextlib.suppress(ResourceExistsError):
                poison.create_queue()
            poison.send_message(message.content)
            client.delete_message(message)
            counts["poisoned"] += 1
            return
        body = base64.b64decode(message.content)
        queue_message = func.queue.QueueMessage(
            id=message.id, body=body, dequeue_count=message.dequeue_count, pop_receipt=message.pop_receipt
        )
        counts["invocations"] += 1
        try:
            function(queue_message)
        except Exception:
            counts["failures"] += 1
            return
        client.delete_message(message)

    with ThreadPoolExecutor(max_workers=batch_size) as pool:
        while time.monotonic() - started < deadline:
            if until is not None and until():
                break
            batch = list(
                client.receive_messages(
                    max_messages=min(batch_size, 32), visibility_timeout=visibility_timeout
                )
            )
            if batch:
                list(pool.map(invoke, batch))
                last_work = time.monotonic()
                continue
            if until is None and time.monotonic() - last_work > until_idle_for:
                break
            time.sleep(0.1)
    return counts


def with_dead_table_endpoint(storage_connection: str) -> str:
    """The same connection string with its TableEndpoint on a closed port: a table outage while
    the queues stay up."""
    import re

    from devtools.ports import free_port

    dead = re.sub(
        r"TableEndpoint=http://127\.0\.0\.1:\d+",
        f"TableEndpoint=http://127.0.0.1:{free_port()}",
        storage_connection,
    )
    assert dead != storage_connection, "no loopback TableEndpoint to replace"
    return dead
