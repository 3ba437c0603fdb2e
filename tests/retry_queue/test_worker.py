"""worker.handle against the real OpenCX and Dataverse simulators and real Azurite: live work items,
OpenCX failures, Dataverse failures, 412s, the dedup window, redaction and v1 messages
(docs/contract.md sections 3-6). Incidents are in test_incidents.py, the burst in test_burst.py."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from helpers import V1_FIXTURES, WORKSTREAM_ID, sample_event
from worker_support import (
    deadletters,
    handle,
    message_for,
    opencx_calls,
    settings_env,
    spy_requeue,
    status_of,
)

from devtools.dataverse_sim import FaultRule as DvFault
from devtools.opencx_sim import SMS_SESSION_ID, WEB_SESSION_ID, FaultRule
from devtools.opencx_sim.contract import history_item
from shared.dynamics.columns import derived_id
from shared.dynamics.work_item import CONTEXT_VALUE_MAX
from shared.opencx.handoff_message import parse_message


def context(item: dict) -> dict[str, str]:
    return {c["msdyn_name"]: c["msdyn_value"] for c in item["context_items"]}


# ------------------------------------------------------------------ the happy path


def test_sms_sample_becomes_one_work_item_with_two_opencx_requests(bridge_env, dataverse, opencx):
    contact = dataverse.add_contact(mobilephone="+14155550123", fullname="Dana Reyes")
    message = message_for()
    assert handle(message) == "created"
    [item] = dataverse.work_items
    assert item["activityid"] == derived_id(SMS_SESSION_ID, "h_1")
    assert item["subject"] == message.event.summary
    assert item["msdyn_channel"] == "192340000"
    assert item["workstream_id"] == WORKSTREAM_ID
    assert item["contact_id"] == contact
    ctx = context(item)
    assert ctx["sessionId"] == SMS_SESSION_ID
    assert ctx["channel"] == "sms"
    assert ctx["customerPhone"] == "+14155550123"
    assert ctx["customerName"] == "Dana Reyes"
    assert all(len(v) <= CONTEXT_VALUE_MAX for v in ctx.values())
    assert "Friday. Can I talk to an agent?" in item["description"]
    assert opencx_calls(opencx) == {"get_session": 1, "list_history": 1}
    assert opencx.stats()["requests"] == 2
    assert status_of(message)["status"] == "created"
    assert status_of(message)["dynamics365_chat_id"] == item["activityid"]
    assert deadletters(bridge_env) == []


def test_context_values_are_cut_to_512(bridge_env, dataverse, opencx):
    opencx.add_session("s-long", channel="web", name="N" * 180, email="x@example.com")
    body = sample_event(conversation_id="s-long", contact_reason="R" * 2000, user_sentiment="neutral")
    assert handle(message_for(body)) == "created"
    [item] = dataverse.work_items
    ctx = context(item)
    assert len(ctx["reason"]) <= CONTEXT_VALUE_MAX < 2000
    assert ctx["reason"].startswith("RRR")


def test_history_over_several_pages_is_read_whole(bridge_env, dataverse, opencx):
    opencx.page_size = 2
    history = [history_item(f"line {i}", sender_type="contact", name="Dana") for i in range(7)]
    opencx.add_session("s-paged", channel="sms", phone_number="+14155550999", history=history)
    assert handle(message_for(sample_event(conversation_id="s-paged"))) == "created"
    assert opencx_calls(opencx) == {"get_session": 1, "list_history": 4}
    [item] = dataverse.work_items
    assert "line 0" in item["description"] and "line 6" in item["description"]


def test_history_max_pages_bounds_the_reads(bridge_env, dataverse, opencx, monkeypatch):
    settings_env(monkeypatch, HISTORY_MAX_PAGES="2")
    opencx.page_size = 2
    history = [history_item(f"line {i}", sender_type="contact", name="Dana") for i in range(9)]
    opencx.add_session("s-bounded", channel="sms", phone_number="+14155550999", history=history)
    assert handle(message_for(sample_event(conversation_id="s-bounded"))) == "created"
    assert opencx_calls(opencx) == {"get_session": 1, "list_history": 2}
    assert len(dataverse.work_items) == 1


def test_per_channel_workstream_is_honoured(bridge_env, dataverse, opencx, monkeypatch):
    sms_stream = dataverse.add_workstream(str(uuid.uuid4()), "SMS only")
    settings_env(monkeypatch, WORKSTREAM_ID_SMS=sms_stream)
    assert handle(message_for()) == "created"
    assert handle(message_for(sample_event(conversation_id=WEB_SESSION_ID), "h_web")) == "created"
    streams = {context(i)["channel"]: i["workstream_id"] for i in dataverse.work_items}
    assert streams == {"sms": sms_stream, "web": WORKSTREAM_ID}


# ------------------------------------------------------------------ OpenCX failures


@pytest.mark.parametrize(
    ("status", "reason"),
    [(404, "opencx_session_not_found"), (401, "opencx_unauthorized"), (403, "opencx_forbidden")],
)
def test_opencx_refusal_dead_letters_at_once(bridge_env, dataverse, opencx, monkeypatch, status, reason):
    spy = spy_requeue(monkeypatch)
    opencx.add_fault(FaultRule("status", operation="get_session", status=status))
    message = message_for()
    assert handle(message) == "dead_lettered"
    [record] = deadletters(bridge_env)
    assert record["reason"] == reason
    assert record["target"] == "opencx"
    assert record["lastStatus"] == status
    assert opencx.count("get_session") == 1
    assert spy.sent == []
    assert dataverse.work_items == []
    assert status_of(message)["status"] == "dead_lettered"


def test_unknown_session_is_opencx_session_not_found(bridge_env, dataverse, opencx):
    assert handle(message_for(sample_event(conversation_id="no-such-session"))) == "dead_lettered"
    assert [r["reason"] for r in deadletters(bridge_env)] == ["opencx_session_not_found"]


def test_opencx_429_waits_retry_after_without_spending_an_attempt(bridge_env, dataverse, opencx, monkeypatch):
    spy = spy_requeue(monkeypatch)
    opencx.add_fault(FaultRule("status", operation="get_session", status=429, retry_after=7, times=1))
    message = message_for(attempt=2)
    assert handle(message) == "throttled"
    [sent] = spy.sent
    assert 7 <= sent.visibility_timeout <= 11  # Retry-After, spread by up to half again, never sooner
    again = parse_message(sent.text)
    assert (again.attempt, again.throttled) == (2, 1)
    assert status_of(message)["status"] == "throttled"
    assert deadletters(bridge_env) == []
    assert handle(again) == "created"
    assert len(dataverse.work_items) == 1


def test_throttling_never_dead_letters_a_young_handoff(bridge_env, dataverse, opencx, monkeypatch):
    settings_env(monkeypatch, HANDOFF_MAX_ATTEMPTS="2")
    spy = spy_requeue(monkeypatch)
    opencx.add_fault(FaultRule("status", operation="get_session", status=429, retry_after=1))
    message = message_for(received_at=datetime.now(UTC) - timedelta(hours=1))
    for _ in range(5):  # far more waits than HANDOFF_MAX_ATTEMPTS allows failures
        assert handle(message) == "throttled"
        message = spy.messages()[-1]
    assert message.throttled == 5 and message.attempt == 0
    assert deadletters(bridge_env) == []


def test_throttling_past_max_age_dead_letters_too_old(bridge_env, dataverse, opencx, monkeypatch):
    settings_env(monkeypatch, HANDOFF_MAX_AGE_SECONDS="3600")
    spy = spy_requeue(monkeypatch)
    opencx.add_fault(FaultRule("status", operation="get_session", status=429, retry_after=1))
    message = message_for(received_at=datetime.now(UTC) - timedelta(seconds=3700), throttled=40)
    assert handle(message) == "dead_lettered"
    assert [r["reason"] for r in deadletters(bridge_env)] == ["too_old"]
    assert spy.sent == []


@pytest.mark.parametrize("kind", ["status", "drop_before"])
def test_opencx_5xx_and_drops_retry_inline_then_requeue(bridge_env, dataverse, opencx, monkeypatch, kind):
    spy = spy_requeue(monkeypatch)
    opencx.add_fault(FaultRule(kind, operation="get_session", status=503))
    message = message_for()
    assert handle(message) == "transient"
    assert opencx.count("get_session") == 3  # one try and two short inline retries
    [sent] = spy.sent
    again = parse_message(sent.text)
    assert (again.attempt, again.throttled) == (1, 0)
    assert sent.visibility_timeout >= 1
    assert again.history[-1].target == "opencx"
    assert status_of(message)["status"] == "retrying"
    assert deadletters(bridge_env) == []


def test_inline_retry_recovers_within_the_invocation(bridge_env, dataverse, opencx, monkeypatch):
    spy = spy_requeue(monkeypatch)
    opencx.add_fault(FaultRule("status", operation="list_history", status=502, times=1))
    assert handle(message_for()) == "created"
    assert spy.sent == []
    assert opencx.count("list_history") == 2


def test_transient_budget_ends_in_attempts_exhausted(bridge_env, dataverse, opencx, monkeypatch):
    settings_env(monkeypatch, HANDOFF_MAX_ATTEMPTS="3")
    spy = spy_requeue(monkeypatch)
    opencx.add_fault(FaultRule("status", operation="get_session", status=500))
    message = message_for(attempt=1)
    assert handle(message) == "transient"
    assert handle(spy.messages()[-1]) == "dead_lettered"
    [record] = deadletters(bridge_env)
    assert record["reason"] == "attempts_exhausted"
    assert record["attempts"] == 3
    assert len(spy.sent) == 1


def test_partial_history_is_carried_and_resumed(bridge_env, dataverse, opencx, monkeypatch):
    spy = spy_requeue(monkeypatch)
    opencx.page_size = 2
    history = [history_item(f"line {i}", sender_type="contact", name="Dana") for i in range(5)]
    opencx.add_session("s-resume", channel="sms", phone_number="+14155550999", history=history)
    # the first page answers (a slow rule that fires once wins first), every later one fails
    opencx.add_fault(FaultRule("slow", operation="list_history", delay=0.01, times=1))
    opencx.add_fault(FaultRule("status", operation="list_history", status=503))
    assert handle(message_for(sample_event(conversation_id="s-resume"))) == "transient"
    carried = spy.messages()[-1]
    assert carried.enrichment is not None and carried.enrichment.pagesRead == 1
    before = opencx.count("get_session")
    opencx.clear_faults()
    assert handle(carried) == "created"
    assert opencx.count("get_session") == before  # the session is not asked for again
    [item] = dataverse.work_items
    assert "line 0" in item["description"] and "line 4" in item["description"]


# ------------------------------------------------------------------ Dataverse failures


def test_dataverse_failure_carries_enrichment_and_retry_asks_opencx_nothing(
    bridge_env, dataverse, opencx, monkeypatch
):
    spy = spy_requeue(monkeypatch)
    dataverse.add_fault(DvFault("status", operation="create_work_item", status=503, retry_after=2, times=1))
    assert handle(message_for()) == "transient"
    [sent] = spy.sent
    carried = parse_message(sent.text)
    assert sent.visibility_timeout == 2
    assert carried.enrichment is not None and carried.enrichment.historyComplete
    assert carried.enrichment.customer.phone == "+14155550123"
    requests_before = opencx.stats()["requests"]
    assert handle(carried) == "created"
    assert opencx.stats()["requests"] == requests_before
    assert len(dataverse.work_items) == 1


def test_dataverse_429_is_throttled_not_an_attempt(bridge_env, dataverse, opencx, monkeypatch):
    spy = spy_requeue(monkeypatch)
    dataverse.add_fault(DvFault("status", operation="create_work_item", status=429, retry_after=3, times=1))
    assert handle(message_for()) == "throttled"
    [sent] = spy.sent
    assert 3 <= sent.visibility_timeout <= 5
    assert (parse_message(sent.text).attempt, parse_message(sent.text).throttled) == (0, 1)


def test_412_confirmed_by_get_counts_as_created(bridge_env, dataverse, opencx, monkeypatch):
    spy = spy_requeue(monkeypatch)
    dataverse.duplicate_code = ""  # Microsoft's own 412 example carries an empty code
    message = message_for()
    assert handle(message) == "created"
    assert handle(message) == "created"  # the redelivery meets its own row
    assert len(dataverse.work_items) == 1
    assert dataverse.count_requests("create_work_item", 412) == 1
    assert dataverse.count_requests("get_work_item", 200) >= 1
    assert spy.sent == [] and deadletters(bridge_env) == []
    assert status_of(message)["status"] == "created"


def test_412_whose_get_finds_nothing_is_retried(bridge_env, dataverse, opencx, monkeypatch):
    spy = spy_requeue(monkeypatch)
    dataverse.add_fault(DvFault("status", operation="create_work_item", status=412, code="", times=1))
    assert handle(message_for()) == "transient"
    assert dataverse.count_requests("get_work_item", 404) == 1
    assert deadletters(bridge_env) == []
    assert handle(spy.messages()[-1]) == "created"
    assert len(dataverse.work_items) == 1


def test_404_about_the_contact_retries_once_without_it(bridge_env, dataverse, opencx, monkeypatch):
    gone = str(uuid.uuid4())
    dataverse.add_contact(contactid=gone, mobilephone="+14155550123")
    dataverse.add_fault(
        DvFault("status", operation="create_work_item", status=404,
                message=f"contact With Id = {gone} Does Not Exist", times=1)
    )  # fmt: skip
    message = message_for()
    assert handle(message) == "created"
    [item] = dataverse.work_items
    assert item["contact_id"] is None
    assert dataverse.count_requests("create_work_item") == 2
    assert status_of(message)["contactLinkage"] == "none"


def test_404_about_the_workstream_dead_letters_after_one_post(bridge_env, dataverse, opencx, monkeypatch):
    settings_env(monkeypatch, DEFAULT_QUEUE_ID=str(uuid.uuid4()))
    dataverse.add_contact(mobilephone="+14155550123")
    assert handle(message_for()) == "dead_lettered"
    assert dataverse.count_requests("create_work_item") == 1
    [record] = deadletters(bridge_env)
    assert record["reason"] == "permanent_error"
    assert record["lastStatus"] == 404


def test_dataverse_error_echoing_customer_text_is_redacted(bridge_env, dataverse, opencx, monkeypatch):
    message = message_for()
    echo = f"Plugin refused: customer Dana Reyes said '{message.event.summary}' from +14155550123"
    dataverse.add_fault(DvFault("status", operation="create_work_item", status=400, message=echo))
    assert handle(message) == "dead_lettered"
    stored = status_of(message)["lastErrorMessage"]
    [record] = deadletters(bridge_env)
    for text in (stored, record["errorMessage"]):
        assert "Plugin refused" in text
        assert "Dana" not in text and "Reyes" not in text
        assert "order 1182" not in text
        assert "+14155550123" not in text


def test_contact_lookup_refused_for_good_creates_unlinked(bridge_env, dataverse, opencx):
    dataverse.add_contact(mobilephone="+14155550123")
    dataverse.add_fault(DvFault("status", operation="contact_lookup", status=403))
    message = message_for()
    assert handle(message) == "created"
    [item] = dataverse.work_items
    assert item["contact_id"] is None
    assert deadletters(bridge_env) == []


def test_contact_lookup_throttled_waits(bridge_env, dataverse, opencx, monkeypatch):
    spy = spy_requeue(monkeypatch)
    dataverse.add_fault(DvFault("status", operation="contact_lookup", status=429, retry_after=4, times=1))
    assert handle(message_for()) == "throttled"
    assert 4 <= spy.sent[0].visibility_timeout <= 6
    assert dataverse.work_items == []


# ------------------------------------------------------------------ the dedup window


def test_second_handoff_within_window_while_open_is_a_duplicate(bridge_env, dataverse, opencx):
    first = message_for(handoff_id="h_first")
    assert handle(first) == "created"
    second = message_for(sample_event(timestamp="2026-11-25T10:05:00Z"), handoff_id="h_second")
    assert handle(second) == "duplicate"
    assert len(dataverse.work_items) == 1
    row = status_of(second)
    assert row["status"] == "duplicate"
    assert row["duplicate_of"] == derived_id(SMS_SESSION_ID, "h_first")


def test_after_the_rep_closed_it_a_new_row_is_created(bridge_env, dataverse, opencx):
    assert handle(message_for(handoff_id="h_first")) == "created"
    dataverse.close("msdyn_ocliveworkitem", derived_id(SMS_SESSION_ID, "h_first"))
    assert handle(message_for(handoff_id="h_second")) == "created"
    assert len(dataverse.work_items) == 2


def test_earlier_row_unreadable_for_a_while_retries_the_handoff(bridge_env, dataverse, opencx, monkeypatch):
    spy = spy_requeue(monkeypatch)
    assert handle(message_for(handoff_id="h_first")) == "created"
    dataverse.add_fault(DvFault("status", operation="get_work_item", status=503, retry_after=3, times=1))
    second = message_for(handoff_id="h_second")
    assert handle(second) == "transient"
    assert len(dataverse.work_items) == 1
    [requeued] = spy.messages()
    assert not requeued.dedupPassed  # decided on the retry, once the row can be read
    row = status_of(second)
    assert (row["lastErrorTarget"], row["lastErrorStatus"]) == ("dataverse", 503)


@pytest.mark.parametrize("status", [404, 403])
def test_earlier_row_gone_or_refused_creates_a_new_one(bridge_env, dataverse, opencx, status):
    assert handle(message_for(handoff_id="h_first")) == "created"
    dataverse.add_fault(DvFault("status", operation="get_work_item", status=status, times=1))
    assert handle(message_for(handoff_id="h_second")) == "created"
    assert len(dataverse.work_items) == 2
    assert deadletters(bridge_env) == []


def test_dedup_window_zero_turns_it_off(bridge_env, dataverse, opencx, monkeypatch):
    settings_env(monkeypatch, HANDOFF_DEDUP_WINDOW_SECONDS="0")
    assert handle(message_for(handoff_id="h_first")) == "created"
    assert handle(message_for(handoff_id="h_second")) == "created"
    assert len(dataverse.work_items) == 2


# ------------------------------------------------------------------ v1 messages


def v1_message(handoff_id: str = "msg_v1") -> str:
    data = json.loads((V1_FIXTURES / "sms-handoff.json").read_text())["data"]
    return json.dumps(
        {
            "v": 1,
            "handoffId": handoff_id,
            "attempt": 1,
            "receivedAt": "2026-11-25T10:00:01Z",
            "handoff": {
                k: data[k] for k in ("sessionId", "channel", "summary", "customer", "language", "transcript")
            },
        }
    )


def test_v1_message_is_delivered_with_the_v1_id_and_no_opencx_request(bridge_env, dataverse, opencx):
    message = parse_message(v1_message())
    assert handle(message) == "created"
    [item] = dataverse.work_items
    assert item["activityid"] == derived_id("ignored", "msg_v1", legacy=True)
    assert item["activityid"] != derived_id("ses_01JDX4SMS7Q2", "msg_v1")
    assert context(item)["sessionId"] == "ses_01JDX4SMS7Q2"
    assert context(item)["customerPhone"] == "+14155550123"
    assert opencx.stats()["requests"] == 0


def test_v1_message_through_the_queue_function(bridge_env, dataverse, opencx):
    import azure.functions as func
    from helpers import function_named

    text = v1_message("msg_v1_fn")
    function_named("retry_queue")(func.queue.QueueMessage(id="1", body=text.encode(), dequeue_count=1))
    assert [i["activityid"] for i in dataverse.work_items] == [derived_id("", "msg_v1_fn", legacy=True)]


def test_invalid_message_dead_letters_invalid_message(bridge_env, dataverse, opencx):
    import azure.functions as func
    from helpers import function_named

    function_named("retry_queue")(
        func.queue.QueueMessage(id="1", body=b'{"v": 2, "nope": 1}', dequeue_count=1)
    )
    [record] = deadletters(bridge_env)
    assert record["reason"] == "invalid_message"
    assert dataverse.work_items == [] and opencx.stats()["requests"] == 0
