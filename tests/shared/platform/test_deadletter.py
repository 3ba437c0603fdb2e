"""One dead-letter function for every queue: `<queue>-deadletter`, no expiry, the raw message bounded."""

from __future__ import annotations

import base64
import json

import azure.functions as func
import pytest
from azure.storage.queue import QueueClient
from helpers import function_named, reset_process_caches

from shared.platform.deadletter import fit_json_text
from shared.platform.limits import DEAD_LETTER_RAW_MAX_BYTES, QUEUE_MESSAGE_MAX_BYTES


def _json_bytes(text: str) -> int:
    return len(json.dumps(text).encode("utf-8"))


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000,
        "é" * 40_000,  # two bytes each
        "😀" * 20_000,  # four bytes each, escaped as a surrogate pair by json.dumps
        '\n\x00"\\' * 20_000,  # escapes grow to 2 or 6 bytes
        "x" * 29_990 + "😀" * 10,  # the cut falls among multi-byte characters
    ],
)
def test_the_raw_text_is_cut_to_fit_by_characters(text):
    cut = fit_json_text(text, DEAD_LETTER_RAW_MAX_BYTES)
    assert text.startswith(cut) and cut
    assert _json_bytes(cut) <= DEAD_LETTER_RAW_MAX_BYTES
    cut.encode("utf-8")  # whole characters only: a split one would not encode


def test_a_text_that_fits_is_kept_whole():
    assert fit_json_text("short", 100) == "short"


def _records(storage: str, queue: str) -> list[tuple[str, dict]]:
    client = QueueClient.from_connection_string(storage, queue)
    found = []
    for message in client.peek_messages(max_messages=32):
        found.append((message.content, json.loads(base64.b64decode(message.content))))
    return found


@pytest.mark.parametrize(
    ("function", "queue_setting"), [("retry_queue", "HANDOFF_QUEUE"), ("relay_queue", "MESSAGING_QUEUE")]
)
def test_an_unreadable_message_goes_to_its_queues_dead_letter_bounded_and_never_expiring(
    bridge_env, monkeypatch, function, queue_setting
):
    monkeypatch.setenv("MESSAGING_QUEUE", bridge_env["HANDOFF_QUEUE"] + "-relay")
    reset_process_caches()
    queue = bridge_env["HANDOFF_QUEUE"] + ("-relay" if queue_setting == "MESSAGING_QUEUE" else "")
    # Not JSON, and far over what a queue message holds once escaped and base64-encoded.
    raw = "\x01😀 not a message " * 8_000
    function_named(function)(func.queue.QueueMessage(id="1", body=raw.encode(), dequeue_count=1))
    [(content, record)] = _records(bridge_env["AzureWebJobsStorage"], queue + "-deadletter")
    assert record["reason"] == "invalid_message"
    assert raw.startswith(record["rawMessage"]) and record["rawMessage"]
    assert len(content.encode()) <= QUEUE_MESSAGE_MAX_BYTES
    client = QueueClient.from_connection_string(bridge_env["AzureWebJobsStorage"], queue + "-deadletter")
    [message] = client.receive_messages(visibility_timeout=1)
    assert message.expires_on.year >= 9999  # time_to_live -1: never expires
