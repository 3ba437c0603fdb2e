"""A burst of 300 handoffs against OpenCX's per-key rate limit: throttling is waiting, not failing
(docs/contract.md section 6). Driven like the host: messages received from real Azurite, re-enqueued
ones come back only after their visibility delay."""

from __future__ import annotations

import time

import pytest
from helpers import drain_like_host, enqueue_handoff, queue_messages, sample_event
from worker_support import deadletters

BURST = 300


@pytest.mark.slow
def test_burst_of_300_ends_as_300_work_items_with_no_dead_letter(bridge_env, dataverse, opencx):
    opencx.rate_limit = 30
    opencx.rate_window = 1.0
    for i in range(BURST):
        opencx.add_session(f"burst-{i:03d}", channel="sms", phone_number=f"+1415555{i:04d}")
    conn, queue = bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"]
    for i in range(BURST):
        enqueue_handoff(conn, queue, f"h_burst_{i:03d}", sample_event(conversation_id=f"burst-{i:03d}"))
    started = time.monotonic()
    counts = drain_like_host("retry_queue", timeout=90.0, until=lambda: len(dataverse.work_items) >= BURST)
    elapsed = time.monotonic() - started
    items = dataverse.work_items
    assert len(items) == BURST, (len(items), counts, elapsed)
    assert len({i["activityid"] for i in items}) == BURST
    assert opencx.stats()["rate_limited"] > 0  # the limit really was hit
    assert deadletters(bridge_env) == []
    assert counts.failures == 0 and counts.poisoned == 0
    assert queue_messages(conn, queue + "-poison") == []
    # Each handoff asked OpenCX for its session and one history page, plus the refused tries.
    assert opencx.count("get_session", status=200) == BURST
    assert opencx.count("list_history", status=200) == BURST
