"""The queue function through the function object, against real Azurite and the Dataverse simulator."""

import base64
import json
import time
import uuid
from collections import Counter
from dataclasses import replace

import azure.functions as func
import pytest
from azure.storage.queue import QueueClient
from helpers import (
    SAMPLES,
    WORKSTREAM_ID,
    drain_like_host,
    enqueue_handoff,
    function_named,
    queue_messages,
    with_dead_table_endpoint,
)

from devtools.dataverse_sim import FaultRule
from shared.dynamics.work_item import work_item_id


def sample_data(name: str = "sms-handoff.json", **overrides) -> dict:
    return json.loads((SAMPLES / name).read_text())["data"] | overrides


def as_queue_message(text: str, dequeue_count: int = 1) -> func.QueueMessage:
    return func.queue.QueueMessage(id=str(uuid.uuid4()), body=text.encode(), dequeue_count=dequeue_count)


def invoke(text: str) -> None:
    function_named("retry_queue")(as_queue_message(text))


def deadletters(env) -> list[dict]:
    return [
        json.loads(t)
        for t in queue_messages(env["AzureWebJobsStorage"], env["HANDOFF_QUEUE"] + "-deadletter")
    ]


def drain(env, **kwargs):
    return drain_like_host("retry_queue", **kwargs)


def dataverse_calls(sim) -> Counter:
    return Counter(record.operation for record in sim.requests)


def test_sms_handoff_becomes_one_linked_work_item(bridge_env, dataverse):
    contact = dataverse.add_contact(mobilephone="+14155550123", fullname="Dana Reyes")
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_sms"))
    [item] = dataverse.work_items
    assert item["activityid"] == work_item_id("msg_sms")
    assert item["subject"].startswith("Customer wants to move delivery of order 1182")
    assert item["msdyn_channel"] == "192340000"
    assert item["workstream_id"] == WORKSTREAM_ID
    assert item["contact_id"] == contact
    context = {c["msdyn_name"]: c["msdyn_value"] for c in item["context_items"]}
    assert context["sessionId"] == "ses_01JDX4SMS7Q2"
    assert context["channel"] == "sms"
    assert context["customerPhone"] == "+14155550123"
    assert dataverse_calls(dataverse) == {"contact_lookup": 1, "create_work_item": 1}
    assert deadletters(bridge_env) == []


@pytest.mark.parametrize(
    ("contacts", "data", "linked_to", "reason"),
    [
        ([{"email": "priya.n@example.com"}], sample_data("web-handoff.json"), 0, "matched_email"),
        (
            [{"email": "jonas.mueller@example.de"}, {"telephone1": "+4915123456789"}],
            sample_data("whatsapp-handoff.json"),
            0,
            "matched_email",
        ),
        ([{"mobilephone": "(415) 555-0123"}], sample_data(), 0, "matched_phone"),
        ([{"telephone1": "+4915123456789"}], sample_data("whatsapp-handoff.json"), 0, "matched_phone"),
        ([{"telephone1": "+14155550123"}, {"mobilephone": "+14155550123"}], sample_data(), None, "ambiguous"),
        (
            [{"email": "priya.n@example.com"}, {"email": "PRIYA.N@example.com"}],
            sample_data("web-handoff.json"),
            None,
            "ambiguous",
        ),
        ([{"mobilephone": "+14155559999"}], sample_data(), None, "no_match"),
        ([], sample_data("web-handoff.json", customer={"name": "Anon"}), None, "no_identifier"),
    ],
)
def test_contact_linking_branches(bridge_env, dataverse, caplog, contacts, data, linked_to, reason):
    ids = [dataverse.add_contact(**contact) for contact in contacts]
    caplog.set_level("INFO")
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_link", data))
    [item] = dataverse.work_items
    assert item.get("contact_id") == (ids[linked_to] if linked_to is not None else None)
    [created] = [r for r in caplog.records if getattr(r, "event", "") == "handoff.created"]
    assert created.contactReason == reason
    lookups = dataverse_calls(dataverse)["contact_lookup"]
    assert lookups == (0 if reason == "no_identifier" else 1)


def test_outcome_log_line_is_queryable_and_pii_free(bridge_env, dataverse, caplog):
    caplog.set_level("DEBUG")
    invoke(
        enqueue_handoff(
            bridge_env["AzureWebJobsStorage"], "unused", "msg_log", sample_data("whatsapp-handoff.json")
        )
    )
    [created] = [r for r in caplog.records if getattr(r, "event", "") == "handoff.created"]
    assert created.dynamics365_chat_id == work_item_id("msg_log")
    assert created.sessionId == "ses_01JDX5WA0001"
    assert created.outcome == "created" and created.attempts == 1
    everything = caplog.text + repr([vars(r) for r in caplog.records])
    for pii in ("4915123456789", "jonas.mueller", "Billing dispute", "Bearer "):
        assert pii not in everything


def test_duplicate_delivery_yields_one_item_via_412(bridge_env, dataverse):
    text = enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_twice")
    invoke(text)
    invoke(text)
    assert len(dataverse.work_items) == 1
    assert dataverse.create_attempts == 2
    assert deadletters(bridge_env) == []


def test_permanent_error_bad_workstream_is_dead_lettered_at_once(bridge_env, dataverse, monkeypatch):
    from helpers import reset_process_caches

    monkeypatch.setenv("DEFAULT_QUEUE_ID", str(uuid.uuid4()))
    reset_process_caches()
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_badws"))
    assert dataverse.work_items == []
    [record] = deadletters(bridge_env)
    assert record["reason"] == "permanent_error"
    assert record["lastStatus"] == 404
    assert "DEFAULT_QUEUE_ID" in record["action"]
    assert record["attempts"] == 1
    assert record["message"]["handoffId"] == "msg_badws"
    assert queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"]) == []


def test_injected_400_is_dead_lettered_with_the_odata_error(bridge_env, dataverse):
    dataverse.add_fault(
        FaultRule(kind="status", operation="create_work_item", status=400, code="0x80040203", message="bad")
    )
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_400"))
    [record] = deadletters(bridge_env)
    assert (record["lastStatus"], record["errorCode"]) == (400, "0x80040203")
    assert record["errorMessage"]


def test_transient_failure_reenqueues_with_attempt_plus_one(bridge_env, dataverse):
    dataverse.add_fault(
        FaultRule(kind="status", operation="create_work_item", status=429, retry_after=1, times=1)
    )
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_429"))
    # the retry is on the handoff queue, invisible for 1 s
    time.sleep(1.3)
    [text] = queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])
    following = json.loads(text)
    assert following["attempt"] == 1 and following["firstAttemptAt"]
    assert following["history"][0]["status"] == 429


def test_retry_after_is_honoured(bridge_env, dataverse):
    dataverse.add_fault(
        FaultRule(kind="status", operation="create_work_item", status=429, retry_after=3, times=1)
    )
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_ra"))
    sent = time.monotonic()
    client = QueueClient.from_connection_string(
        bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"]
    )
    while not client.peek_messages(max_messages=1):
        assert time.monotonic() - sent < 10
        time.sleep(0.05)
    visible_after = time.monotonic() - sent
    assert visible_after >= 2.9, visible_after
    drain(bridge_env, idle_seconds=0.5)
    assert len(dataverse.work_items) == 1


def test_attempts_running_out_dead_letters_with_history(bridge_env, dataverse, monkeypatch):
    from helpers import reset_process_caches

    monkeypatch.setenv("HANDOFF_MAX_ATTEMPTS", "3")
    reset_process_caches()
    dataverse.add_fault(FaultRule(kind="status", operation="create_work_item", status=429, retry_after=1))
    enqueue_handoff(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"], "msg_exhaust")
    drain(bridge_env, idle_seconds=2.5)
    assert dataverse.work_items == []
    [record] = deadletters(bridge_env)
    assert record["reason"] == "attempts_exhausted"
    assert record["attempts"] == 3 and record["lastStatus"] == 429
    assert [h["attempt"] for h in record["message"]["history"]] == [0, 1]
    assert record["firstAttemptAt"] <= record["lastAttemptAt"]


def test_expired_token_is_refreshed(bridge_env, dataverse):
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_t1"))
    before = dataverse.token_requests
    dataverse.expire_tokens()
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_t2"))
    assert len(dataverse.work_items) == 2
    assert dataverse.token_requests > before
    assert any(r.status == 401 for r in dataverse.requests)


def test_invalid_message_is_dead_lettered_with_reason(bridge_env, dataverse):
    invoke('{"v": 1, "handoffId": "x"}')
    invoke("not json at all")
    records = deadletters(bridge_env)
    assert [r["reason"] for r in records] == ["invalid_message", "invalid_message"]
    assert "receivedAt" in records[0]["errorMessage"]
    assert records[1]["rawMessage"] == "not json at all"


def test_crash_between_reenqueue_and_completion_is_harmless(bridge_env, dataverse):
    """The host redelivers the original after a crash, while the re-enqueued copy also exists."""
    text = enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_crash")
    dataverse.add_fault(
        FaultRule(kind="status", operation="create_work_item", status=503, retry_after=1, times=1)
    )
    invoke(text)  # transient: re-enqueued with attempt 1 (the "crash" means the original is not deleted)
    invoke(text)  # the original again: creates the item
    drain(bridge_env, idle_seconds=1.5)  # the re-enqueued copy: 412, success
    assert len(dataverse.work_items) == 1
    assert deadletters(bridge_env) == []


def test_queue_down_while_reenqueueing_raises_so_the_host_keeps_the_message(bridge_env, dataverse, azurite):
    text = enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_down")
    dataverse.add_fault(
        FaultRule(kind="status", operation="create_work_item", status=429, retry_after=1, times=1)
    )
    azurite.stop()
    try:
        with pytest.raises(Exception, match=r"QueueUnavailable|queue"):
            invoke(text)
    finally:
        azurite.start()


FAULTS = {
    "429": FaultRule(kind="status", status=429, retry_after=1, rate=0.3),
    "500": FaultRule(kind="status", status=500, rate=0.3),
    "502": FaultRule(kind="status", status=502, rate=0.3),
    "503": FaultRule(kind="status", status=503, rate=0.3),
    "504": FaultRule(kind="status", status=504, rate=0.3),
    "drop_before": FaultRule(kind="drop_before", rate=0.3),
    "drop_after_commit": FaultRule(kind="drop_after_commit", operation="create_work_item", rate=0.4),
    "slow": FaultRule(kind="slow", delay=1.5, rate=0.2),
}


@pytest.fixture
def quick_inline_retries(monkeypatch):
    """Shorter in-invocation pauses keep the fault matrix fast; the retry logic is unchanged."""
    import shared.dynamics.dataverse

    monkeypatch.setattr(shared.dynamics.dataverse, "INLINE_RETRY_PAUSES", (0.05, 0.15))


def all_created(sim, ids):
    wanted = {work_item_id(h) for h in ids}
    return lambda: wanted <= {item["activityid"] for item in sim.work_items}


@pytest.mark.parametrize("kind", [*FAULTS, "mixed"])
def test_every_fault_kind_ends_in_exactly_one_item_per_handoff(
    bridge_env, dataverse, quick_inline_retries, kind
):
    if kind == "mixed":  # every kind at once, about 30% of requests in all
        for rule in FAULTS.values():
            dataverse.add_fault(replace(rule, rate=0.04))
        dataverse.max_concurrency = 6  # below the 8 concurrent invocations: some 0x80072326 429s
    else:
        dataverse.add_fault(FAULTS[kind])
    ids = [f"msg_{kind}_{i}" for i in range(10)]
    for handoff_id in ids:
        enqueue_handoff(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"], handoff_id)
    drain(bridge_env, batch_size=8, timeout=90, until=all_created(dataverse, ids))
    created = Counter(item["activityid"] for item in dataverse.work_items)
    assert set(created) == {work_item_id(h) for h in ids}
    assert max(created.values()) == 1
    assert deadletters(bridge_env) == []
    faulted = [r for r in dataverse.requests if r.fault or r.status >= 400]
    assert faulted, "the fault was never injected"


def test_two_hundred_handoffs_with_thirty_percent_faults(bridge_env, dataverse, quick_inline_retries):
    """Issue 3's acceptance run: exactly 200 items, no duplicates, nothing dead-lettered."""
    for rule in (
        FaultRule(kind="status", status=429, retry_after=1, rate=0.06),
        FaultRule(kind="status", status=503, rate=0.05),
        FaultRule(kind="status", status=500, rate=0.04),
        FaultRule(kind="drop_before", rate=0.05),
        FaultRule(kind="drop_after_commit", operation="create_work_item", rate=0.06),
        FaultRule(kind="slow", delay=1.2, rate=0.04),
    ):
        dataverse.add_fault(rule)
    dataverse.max_concurrency = 12
    ids = [f"msg_bulk_{i}" for i in range(200)]
    for handoff_id in ids:
        enqueue_handoff(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"], handoff_id)
    counts = drain(bridge_env, timeout=150, until=all_created(dataverse, ids))
    created = Counter(item["activityid"] for item in dataverse.work_items)
    assert len(created) == 200 and max(created.values()) == 1
    assert deadletters(bridge_env) == []
    faulted = sum(1 for r in dataverse.requests if r.fault or r.status >= 400)
    total = len(dataverse.requests)
    print(f"\n200 handoffs: {total} Dataverse requests, {faulted} faulted ({faulted / total:.0%}), {counts}")
    assert faulted / total >= 0.2


def test_fault_free_path_uses_at_most_two_requests_per_handoff(bridge_env, dataverse):
    dataverse.add_contact(email="priya.n@example.com")
    datas = [sample_data(), sample_data("whatsapp-handoff.json"), sample_data("web-handoff.json")]
    for i, data in enumerate(datas * 4):
        enqueue_handoff(
            bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"], f"msg_cheap_{i}", data
        )
    drain(bridge_env, idle_seconds=1.0)
    assert len(dataverse.work_items) == 12
    assert len(dataverse.requests) <= 24
    assert dataverse_calls(dataverse) == {"contact_lookup": 12, "create_work_item": 12}


def test_message_body_is_base64_on_the_wire(bridge_env, dataverse):
    """host.json says messageEncoding base64: what ingress/worker write must decode that way."""
    enqueue_handoff(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"], "msg_b64")
    raw = QueueClient.from_connection_string(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])
    [peeked] = raw.peek_messages()
    assert json.loads(base64.b64decode(peeked.content))["handoffId"] == "msg_b64"


def test_emoji_summary_is_accepted_by_dataverse_limits(bridge_env, dataverse):
    data = sample_data(
        summary="Angry customer 😠 " * 40, customer={"phone": "+14155550123", "name": "😀" * 150}
    )
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_emoji", data))
    assert len(dataverse.work_items) == 1
    assert deadletters(bridge_env) == []


def status_row(handoff_id: str, session: str = "ses_01JDX4SMS7Q2") -> dict:
    from shared.platform.status_store import get_row

    row = get_row(session, handoff_id)
    assert row is not None
    return row


def test_status_row_follows_retrying_then_created(bridge_env, dataverse):
    from shared.platform.status_store import record_accepted

    record_accepted("ses_01JDX4SMS7Q2", "msg_life", "sms", "2026-11-25T10:00:00.000+00:00")
    assert status_row("msg_life")["status"] == "accepted"
    dataverse.add_fault(
        FaultRule(
            kind="status", operation="create_work_item", status=429, retry_after=1, times=1, code="0x80072321"
        )
    )
    enqueue_handoff(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"], "msg_life")
    seen: list[str] = []

    def created() -> bool:
        seen.append(status_row("msg_life")["status"])
        return seen[-1] == "created"

    drain(bridge_env, timeout=15, until=created)
    row = status_row("msg_life")
    assert "retrying" in seen
    assert row["status"] == "created"
    assert row["dynamics365_chat_id"] == work_item_id("msg_life")
    assert row["attempts"] == 2
    assert row["contactLinkage"] in ("none", "phone", "email", "ambiguous")
    assert row["lastErrorStatus"] == 429  # the last error stays visible after success
    assert row["receivedAt"] <= row["createdAt"]


def test_status_row_records_the_dead_letter(bridge_env, dataverse, monkeypatch):
    from helpers import reset_process_caches

    monkeypatch.setenv("DEFAULT_QUEUE_ID", str(uuid.uuid4()))
    reset_process_caches()
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_dead_row"))
    row = status_row("msg_dead_row")
    assert row["status"] == "dead_lettered"
    assert row["lastErrorStatus"] == 404
    assert row["deadLetterReason"] == "permanent_error"
    assert "dynamics365_chat_id" not in row


def test_store_outage_does_not_block_delivery(bridge_env, dataverse, monkeypatch, caplog):

    from helpers import reset_process_caches

    dead = with_dead_table_endpoint(bridge_env["AzureWebJobsStorage"])
    monkeypatch.setenv("AzureWebJobsStorage", dead)
    reset_process_caches()
    invoke(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_store_down"))
    assert len(dataverse.work_items) == 1
    assert any(getattr(r, "event", None) == "status_store.unavailable" for r in caplog.records)
