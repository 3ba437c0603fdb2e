"""The real stack end to end: signed HTTP -> local runner (a subprocess) -> Azurite -> simulator.

Each test starts its own stack (in-memory Azurite, seeded simulator, runner) with a host.json
override that keeps polling and visibility short, so crashes and retries resolve in seconds.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import SAMPLES, enqueue_handoff, queue_messages

from devtools.azurite import PROJECT_ROOT
from devtools.dataverse_sim import FaultRule
from devtools.send_handoff import send
from devtools.signing import new_webhook_id
from devtools.stack import Stack
from shared.dynamics.work_item import work_item_id

pytestmark = pytest.mark.slow
SMS = (SAMPLES / "sms-handoff.json").read_bytes()


def _host_json(tmp_path: Path, **queues: object) -> Path:
    """The project's host.json with short timings (and any other queue overrides)."""
    config = json.loads((PROJECT_ROOT / "host.json").read_text())
    config["extensions"]["queues"].update(
        {"maxPollingInterval": "00:00:00.5", "visibilityTimeout": "00:00:02", **queues}
    )
    path = tmp_path / "host.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def make_stack(tmp_path: Path):
    stacks: list[Stack] = []

    def start(**kwargs: object) -> Stack:
        if "host_json" not in kwargs:
            kwargs["host_json"] = _host_json(tmp_path)
        stack = Stack(runner_log=tmp_path / "runner.log", **kwargs).start()
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.stop()


def _wait(predicate, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def _pending(stack: Stack, queue: str) -> int:
    """Messages on the queue, invisible (leased or delayed) ones included."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(stack.azurite.connection_string, queue)
    try:
        return client.get_queue_properties().approximate_message_count
    except ResourceNotFoundError:
        return 0


def _post(stack: Stack, webhook_id: str, body: bytes = SMS) -> int:
    return send(body, stack.webhook_url, stack.function_key, stack.webhook_secret, webhook_id)[0]


def _item_ids(stack: Stack) -> list[str]:
    return sorted(item["activityid"] for item in stack.simulator.work_items)


def test_sms_handoff_becomes_one_work_item(make_stack, tmp_path, capsys):
    stack = make_stack()
    webhook_id = new_webhook_id()
    sent = time.monotonic()
    assert _post(stack, webhook_id) == 202
    _wait(lambda: stack.simulator.work_items, 20, "the work item", tmp_path / "runner.log")
    latency_ms = (time.monotonic() - sent) * 1000
    with capsys.disabled():
        print(f"\nend-to-end latency (webhook sent -> work item in Dataverse): {latency_ms:.0f} ms")
    item = stack.simulator.work_items[0]
    assert _item_ids(stack) == [work_item_id(webhook_id)]
    assert item["subject"].startswith("Customer wants to move delivery of order 1182")
    assert item["contact_id"] is not None  # the seeded Dana Reyes, by mobile phone
    _wait(lambda: _pending(stack, "handoffs") == 0, 10, "the message to be deleted")
    assert "handoff.created" in (tmp_path / "runner.log").read_text()
    assert stack.stop_runner() == 0  # SIGTERM: drains and exits cleanly


def test_crash_while_in_flight_still_gives_exactly_one_item_each(make_stack, tmp_path):
    stack = make_stack()
    sim = stack.simulator
    count = 6
    sim.latency = 0.5  # lookups and creates take a while, so the kill lands mid-invocation
    sim.add_fault(FaultRule(kind="drop_after_commit", operation="create_work_item", times=count))
    ids = [new_webhook_id() for _ in range(count)]
    assert [_post(stack, webhook_id) for webhook_id in ids] == [202] * count

    _wait(lambda: sim.work_items, 20, "a first committed create", tmp_path / "runner.log")
    stack.kill_runner()  # SIGKILL: no drain, leases and re-enqueues cut short
    committed_at_kill = len(sim.work_items)
    assert committed_at_kill < count or _pending(stack, "handoffs") > 0  # something was in flight

    sim.latency = 0.0
    stack.start_runner()
    _wait(
        lambda: len(sim.work_items) >= count and _pending(stack, "handoffs") == 0,
        45,
        "every handoff to settle",
        tmp_path / "runner.log",
    )
    assert _item_ids(stack) == sorted(work_item_id(webhook_id) for webhook_id in ids)
    assert sim.faults[0].fired >= 1  # creates really did commit and then drop
    assert queue_messages(stack.azurite.connection_string, "handoffs-deadletter") == []
    assert queue_messages(stack.azurite.connection_string, "handoffs-poison") == []


def test_queue_outage_gives_503_then_retries_are_accepted(make_stack, tmp_path):
    stack = make_stack()
    ids = [new_webhook_id() for _ in range(3)]
    stack.azurite.stop()
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:  # each 503 waits out ingress's bounded retry
            assert list(pool.map(lambda webhook_id: _post(stack, webhook_id), ids)) == [503] * 3
    finally:
        stack.azurite.start()
    assert stack.simulator.work_items == []
    # OpenCX retries the same deliveries (same webhook-id, re-signed): all are accepted now.
    assert [_post(stack, webhook_id) for webhook_id in ids] == [202] * 3
    _wait(lambda: len(stack.simulator.work_items) == 3, 30, "three work items", tmp_path / "runner.log")
    assert _item_ids(stack) == sorted(work_item_id(webhook_id) for webhook_id in ids)


def test_message_that_makes_the_function_raise_reaches_poison(make_stack, tmp_path):
    # A workstream id that is not a GUID: settings validation raises inside the queue function
    # on every attempt (not a dead-letter the code chooses), so the host's poison path takes it.
    stack = make_stack(
        settings={"DEFAULT_QUEUE_ID": "not-a-guid"},
        host_json=_host_json(tmp_path, visibilityTimeout="00:00:00"),
    )
    conn = stack.azurite.connection_string
    text = enqueue_handoff(conn, "handoffs", new_webhook_id())
    log = tmp_path / "runner.log"
    _wait(lambda: queue_messages(conn, "handoffs-poison"), 30, "the poison queue", log)
    assert queue_messages(conn, "handoffs-poison") == [text]  # content preserved
    assert _pending(stack, "handoffs") == 0
    outcomes = [line.rsplit("outcome=", 1)[1] for line in log.read_text().splitlines() if "outcome=" in line]
    queue_outcomes = [o for o in outcomes if o in ("failed", "poisoned")]
    assert queue_outcomes == ["failed"] * 4 + ["poisoned"]  # host.json maxDequeueCount is 5
    assert stack.simulator.work_items == []
