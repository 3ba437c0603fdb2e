"""Constants and helpers the tests share (importable: conftest puts tests/ on sys.path)."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    """Settings are read once per process: a test that changes them loads them afresh, and what the
    process built from the old ones (clients, credentials) is closed and built again on next use."""
    from shared.platform import process
    from shared.platform.settings import get_settings

    process.close_all()
    get_settings.cache_clear()


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
    """function_app.app's functions by name. get_functions() may only be called once per app, so
    this goes through the runner's cache, which the runner's own listeners share."""
    import function_app
    from devtools.localhost import app_functions

    return {function.get_function_name(): function for function in app_functions(function_app.app)}


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

    from shared.opencx.handoff_message import build_message
    from shared.opencx.webhook import parse_event
    from shared.platform.queues import QueueProfile, make_queue_client, send
    from shared.platform.settings import StorageConnection

    message = build_message(handoff_id, parse_event(body or sample_event()), datetime.now(UTC), None)
    if fields:
        message = message.model_copy(update=fields)
    client = make_queue_client(
        StorageConnection(connection_string=storage_connection), queue, QueueProfile.WORKER
    )
    send(client, message.to_json())
    return message.to_json()


def drain_like_host(
    function_name: str,
    *,
    batch_size: int | None = None,
    idle_seconds: float = 3.0,
    timeout: float = 60.0,
    until=None,  # a callable returning True when the test has what it waits for
):
    """Run the local runner's own queue listener for `function_name` in this thread until the queue
    is idle (or `until()` is true): host.json's semantics (batch, lease renewal, poison), polled
    fast, with failures visible again after 5 s. Returns the listener's QueueCounts."""
    import os
    from dataclasses import replace

    from devtools.localhost import QueueListener, QueueOptions

    options = replace(
        QueueOptions.from_host_json(ROOT / "host.json"), max_polling_interval=0.1, visibility_timeout=5.0
    )
    if batch_size is not None:
        options = replace(options, batch_size=batch_size, new_batch_threshold=batch_size // 2)
    listener = QueueListener(_app_functions()[function_name], options, os.environ)
    return listener.drain(idle_seconds=idle_seconds, timeout=timeout, until=until)


def with_dead_table_endpoint(storage_connection: str) -> str:
    """The same connection string with its TableEndpoint on a closed port: a table outage while
    the queues stay up."""
    import re

    from devtools.azurite import free_port

    dead = re.sub(
        r"TableEndpoint=http://127\.0\.0\.1:\d+",
        f"TableEndpoint=http://127.0.0.1:{free_port()}",
        storage_connection,
    )
    assert dead != storage_connection, "no loopback TableEndpoint to replace"
    return dead


def metric_points(reader: Any) -> dict[str, list[Any]]:
    """Every data point an in-memory metric reader holds, by metric name."""
    points: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


@contextlib.contextmanager
def serving(body: bytes, content_type: str = "text/html") -> Iterator[str]:
    """A loopback server answering every GET with `body`: its URL (`/keys`) while the block runs."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/keys"
    finally:
        server.shutdown()
        server.server_close()
