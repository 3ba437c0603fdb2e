"""The real stack end to end: OpenCX's real webhook envelope over HTTP to `?code=` -> local runner
(a subprocess) -> Azurite -> the OpenCX simulator (enrichment) -> the Dataverse simulator.

Each test starts its own stack (in-memory Azurite, both simulators seeded, runner) with a host.json
override that keeps polling and visibility short, so crashes and retries resolve in seconds. No
webhook secret is set, as with a real OpenCX workspace (it documents no signature).
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
from devtools.opencx_sim import EMAIL_SESSION_ID, SMS_SESSION_ID
from devtools.send_handoff import new_webhook_id, send
from devtools.stack import Stack
from shared.dynamics.columns import derived_id

pytestmark = pytest.mark.slow
SMS = (SAMPLES / "handoff-sms.json").read_bytes()  # the real sample: the demo SMS session's event


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


def _deliver(stack: Stack, body: bytes = SMS, webhook_id: str | None = None) -> tuple[int, dict]:
    """POST as OpenCX does: the envelope to the URL with `?code=`, unsigned."""
    status, text = send(body, stack.webhook_url, key=stack.function_key, webhook_id=webhook_id)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {}


def _post(stack: Stack, body: bytes = SMS) -> int:
    return _deliver(stack, body)[0]


def _event(stack: Stack, session_id: str, **options: object) -> bytes:
    return json.dumps(stack.opencx.handoff_event(session_id, **options)).encode()


def _new_sms_sessions(stack: Stack, count: int) -> list[str]:
    """Distinct SMS conversations (one row each; the dedup window is per conversation)."""
    return [
        stack.opencx.add_session(channel="sms", name="Dana Reyes", phone_number="+14155550123",
                                 updated_at="2026-11-25T10:00:00.000Z")
        for _ in range(count)
    ]  # fmt: skip


def _item_ids(stack: Stack) -> list[str]:
    return sorted(item["activityid"] for item in stack.simulator.work_items)


def test_sms_handoff_becomes_one_work_item(make_stack, tmp_path, capsys):
    stack = make_stack()
    sent = time.monotonic()
    status, answer = _deliver(stack)
    assert status == 202 and answer["sessionId"] == SMS_SESSION_ID
    assert answer["handoffId"].startswith("ocx_")  # no id header: derived from the event
    _wait(lambda: stack.simulator.work_items, 20, "the work item", tmp_path / "runner.log")
    latency_ms = (time.monotonic() - sent) * 1000
    with capsys.disabled():
        print(f"\nend-to-end latency (webhook sent -> work item in Dataverse): {latency_ms:.0f} ms")
    item = stack.simulator.work_items[0]
    assert _item_ids(stack) == [derived_id(SMS_SESSION_ID, answer["handoffId"])]
    assert item["subject"].startswith("Customer wants to move delivery of order 1182")
    assert item["contact_id"] is not None  # the seeded Dana Reyes, by mobile phone (from OpenCX)
    context = {c["msdyn_name"]: c["msdyn_value"] for c in item["context_items"]}
    assert context["channel"] == "sms" and context["sessionId"] == SMS_SESSION_ID
    assert stack.opencx.count(operation="get_session") == 1
    assert stack.opencx.count(operation="list_history") == 1
    _wait(lambda: _pending(stack, "handoffs") == 0, 10, "the message to be deleted")
    log = (tmp_path / "runner.log").read_text()
    assert "handoff.created" in log
    assert "4155550123" not in log and stack.opencx.api_key not in log
    assert stack.stop_runner() == 0  # SIGTERM: drains and exits cleanly


def test_email_handoff_becomes_one_incident_with_a_ticket_number(make_stack, tmp_path):
    stack = make_stack()
    status, answer = _deliver(stack, _event(stack, EMAIL_SESSION_ID, as_array=True))  # data as an array
    assert status == 202
    incident_id = derived_id(EMAIL_SESSION_ID, answer["handoffId"])
    _wait(lambda: stack.simulator.incident(incident_id), 20, "the incident", tmp_path / "runner.log")
    incident = stack.simulator.incident(incident_id)
    assert incident["ticketnumber"]
    assert incident["contact_id"] is not None  # an incident always has a customer
    assert incident["title"]
    assert [i["incidentid"] for i in stack.simulator.incidents] == [incident_id]
    assert stack.simulator.work_items == []
    _wait(lambda: stack.simulator.queue_items, 10, "AddToQueue", tmp_path / "runner.log")
    assert [q["objectid"] for q in stack.simulator.queue_items] == [incident_id]


def test_redelivered_event_gives_one_row(make_stack, tmp_path):
    """OpenCX retries a delivery (same event, no id header): one handoff, one work item, whether the
    copies arrive together or after the first was delivered."""
    stack = make_stack()
    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(lambda _: _deliver(stack), range(5)))
    assert all(status in (200, 202) for status, _ in answers)
    assert len({answer["handoffId"] for _, answer in answers}) == 1
    _wait(lambda: stack.simulator.work_items, 20, "the work item", tmp_path / "runner.log")
    _wait(lambda: _pending(stack, "handoffs") == 0, 10, "the queue to settle")
    status, answer = _deliver(stack)  # a late redelivery
    assert status == 200 and answer.get("duplicate") is True
    time.sleep(1.5)  # anything wrongly queued would be created by now
    assert _item_ids(stack) == [derived_id(SMS_SESSION_ID, answers[0][1]["handoffId"])]


def test_crash_while_in_flight_still_gives_exactly_one_item_each(make_stack, tmp_path):
    stack = make_stack()
    sim = stack.simulator
    count = 6
    sim.latency = 0.5  # lookups and creates take a while, so the kill lands mid-invocation
    sim.add_fault(FaultRule(kind="drop_after_commit", operation="create_work_item", times=count))
    sessions = _new_sms_sessions(stack, count)
    answers = [_deliver(stack, _event(stack, session)) for session in sessions]
    assert [status for status, _ in answers] == [202] * count

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
    assert _item_ids(stack) == sorted(
        derived_id(s, a["handoffId"]) for s, (_, a) in zip(sessions, answers, strict=True)
    )
    assert sim.faults[0].fired >= 1  # creates really did commit and then drop
    assert queue_messages(stack.azurite.connection_string, "handoffs-deadletter") == []
    assert queue_messages(stack.azurite.connection_string, "handoffs-poison") == []


def test_queue_outage_gives_503_then_retries_are_accepted(make_stack, tmp_path):
    stack = make_stack()
    bodies = [_event(stack, session) for session in _new_sms_sessions(stack, 3)]
    stack.azurite.stop()
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:  # each 503 waits out ingress's bounded retry
            assert list(pool.map(lambda body: _post(stack, body), bodies)) == [503] * 3
    finally:
        stack.azurite.start()
    assert stack.simulator.work_items == []
    # OpenCX retries the same deliveries (the same events): all are accepted now, one row each.
    answers = [_deliver(stack, body) for body in bodies]
    assert [status for status, _ in answers] == [202] * 3
    _wait(lambda: len(stack.simulator.work_items) == 3, 30, "three work items", tmp_path / "runner.log")
    expected = sorted(derived_id(a["sessionId"], a["handoffId"]) for _, a in answers)
    assert _item_ids(stack) == expected


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
