"""Constants and helpers the tests share (importable: conftest puts tests/ on sys.path)."""

from __future__ import annotations

import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples"
WORKSTREAM_ID = "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"


def bridge_environment(storage_connection: str, queue: str, **overrides: str) -> dict[str, str]:
    """A complete, valid set of app settings for tests."""
    from devtools.signing import DEV_WEBHOOK_SECRET

    env = {
        "DATAVERSE_URL": "http://127.0.0.1:9",
        "DEFAULT_QUEUE_ID": WORKSTREAM_ID,
        "OPENCX_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET,
        "AzureWebJobsStorage": storage_connection,
        "HANDOFF_QUEUE": queue,
        "HANDOFF_MAX_ATTEMPTS": "10",
    }
    env.update(overrides)
    return env


def reset_process_caches() -> None:
    """Settings and clients are cached per process; tests that change settings reset them."""
    from shared.queues import queue_client
    from shared.settings import get_settings

    get_settings.cache_clear()
    queue_client.cache_clear()


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
