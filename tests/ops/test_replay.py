"""The replay CLI end to end on v2 messages: dead-letter on an OpenCX or Dataverse refusal, fix the
cause, replay, exactly one row; listings never show customer data."""

import io
import json
import uuid

import pytest
from helpers import (
    WORKSTREAM_ID,
    drain_like_host,
    enqueue_handoff,
    queue_messages,
    reset_process_caches,
    sample_event,
)

from devtools.opencx_sim import SMS_SESSION_ID, WHATSAPP_SESSION_ID
from ops.replay import main
from shared.dynamics.columns import derived_id
from shared.platform.status_store import get_row

# What the demo sessions hold and no listing may show whole (the SMS sample and the WhatsApp one).
CUSTOMER_DATA = ("4155550123", "Dana Reyes", "4915123456789", "jonas.mueller@example.de", "Jonas Mueller")


def replay(env: dict[str, str], *args: str) -> list[dict]:
    out = io.StringIO()
    argv = [*args, "--connection-string", env["AzureWebJobsStorage"], "--queue", env["HANDOFF_QUEUE"]]
    assert main(argv, out) == 0
    text = out.getvalue()
    for pii in CUSTOMER_DATA:
        assert pii not in text, f"{pii!r} shown by replay {args[0]}"
    if args[0] == "show":
        return [json.loads(text)] if text else []
    return [json.loads(line) for line in text.splitlines() if line]


def drain(env: dict[str, str]) -> None:
    drain_like_host("retry_queue", idle_seconds=1.0)


def deadletters(env: dict[str, str]) -> list[dict]:
    return [
        json.loads(t)
        for t in queue_messages(env["AzureWebJobsStorage"], env["HANDOFF_QUEUE"] + "-deadletter")
    ]


def test_opencx_key_refused_then_fixed_replay_one_work_item(bridge_env, dataverse, opencx, monkeypatch):
    conn, queue = bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"]
    monkeypatch.setenv("OPENCX_API_KEY", "ocx_test_revoked_key")  # OpenCX answers 401: permanent
    reset_process_caches()
    enqueue_handoff(conn, queue, "ocx_replay_sms")
    enqueue_handoff(conn, queue, "ocx_replay_wa", sample_event(conversation_id=WHATSAPP_SESSION_ID))
    drain(bridge_env)
    assert dataverse.work_items == []
    assert dataverse.count_requests("create_work_item") == 0
    assert get_row(SMS_SESSION_ID, "ocx_replay_sms")["status"] == "dead_lettered"

    listed = replay(bridge_env, "list", "--source", "deadletter")
    assert sorted(r["handoffId"] for r in listed) == ["ocx_replay_sms", "ocx_replay_wa"]
    assert {(r["reason"], r["target"], r["lastStatus"]) for r in listed} == {
        ("opencx_unauthorized", "opencx", 401)
    }
    assert all(r["replayable"] for r in listed)
    assert {r["sessionId"] for r in listed} == {SMS_SESSION_ID, WHATSAPP_SESSION_ID}
    [shown] = replay(bridge_env, "show", "--handoff-id", "ocx_replay_sms")
    assert "OPENCX_API_KEY" in shown["action"]
    assert shown["handoff"]["enriched"] is False  # nothing was fetched: the key was refused
    assert shown["handoff"]["history"] == [] or all("target" in h for h in shown["handoff"]["history"])

    monkeypatch.setenv("OPENCX_API_KEY", opencx.api_key)  # the fix
    reset_process_caches()
    dry = replay(
        bridge_env, "redrive", "--reason", "opencx_unauthorized", "--session-id", SMS_SESSION_ID, "--dry-run"
    )
    assert [r["result"] for r in dry] == ["would re-drive"]
    assert queue_messages(conn, queue) == []
    assert len(deadletters(bridge_env)) == 2

    done = replay(bridge_env, "redrive", "--handoff-id", "ocx_replay_sms")
    assert [r["result"] for r in done] == ["re-driven"]
    [text] = queue_messages(conn, queue)
    message = json.loads(text)
    assert message["v"] == 2 and message["handoffId"] == "ocx_replay_sms"
    assert message["attempt"] == 0 and message["throttled"] == 0 and not message.get("history")
    assert message["event"]["conversation_id"] == SMS_SESSION_ID
    assert [d["handoffId"] for d in deadletters(bridge_env)] == ["ocx_replay_wa"]

    drain(bridge_env)
    [item] = dataverse.work_items
    expected = derived_id(SMS_SESSION_ID, "ocx_replay_sms")
    assert item["activityid"] == expected
    row = get_row(SMS_SESSION_ID, "ocx_replay_sms")
    assert row["status"] == "created" and row["dynamics365_chat_id"] == expected

    # the same handoff stranded on the poison queue too: re-driving it again creates nothing new
    enqueue_handoff(conn, queue + "-poison", "ocx_replay_sms")
    again = replay(bridge_env, "redrive", "--source", "poison", "--all")
    assert [(r["source"], r["result"], r["sessionId"]) for r in again] == [
        ("poison", "re-driven", SMS_SESSION_ID)
    ]
    drain(bridge_env)
    assert len(dataverse.work_items) == 1
    assert queue_messages(conn, queue + "-poison") == []


def test_dataverse_refusal_replay_keeps_what_opencx_gave(bridge_env, dataverse, opencx, monkeypatch):
    """A Dataverse 404 (no such workstream) after enrichment: the dead letter carries the enrichment,
    so the replay creates the row without asking OpenCX again; `--refetch` would ask."""
    conn, queue = bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"]
    monkeypatch.setenv("DEFAULT_QUEUE_ID", str(uuid.uuid4()))  # not a workstream: 404, permanent
    reset_process_caches()
    enqueue_handoff(conn, queue, "ocx_replay_dv")
    drain(bridge_env)
    assert dataverse.work_items == []
    [record] = deadletters(bridge_env)
    assert (record["reason"], record["target"], record["lastStatus"]) == ("permanent_error", "dataverse", 404)
    assert record["message"]["enrichment"]["channel"] == "sms"

    [shown] = replay(bridge_env, "show", "--reason", "permanent_error")
    assert shown["handoff"]["enriched"] is True and shown["handoff"]["channel"] == "sms"
    assert shown["handoff"]["customer"]["phone"].endswith("0123")
    assert shown["handoff"]["customer"]["name"] == "D***"
    assert shown["handoff"]["transcriptLines"] > 0
    assert "DEFAULT_QUEUE_ID" in shown["action"]

    monkeypatch.setenv("DEFAULT_QUEUE_ID", WORKSTREAM_ID)  # the fix
    reset_process_caches()
    fetched_before = opencx.count(operation="get_session")
    assert [r["result"] for r in replay(bridge_env, "redrive", "--all", "--source", "deadletter")] == [
        "re-driven"
    ]
    drain(bridge_env)
    [item] = dataverse.work_items
    assert item["activityid"] == derived_id(SMS_SESSION_ID, "ocx_replay_dv")
    assert opencx.count(operation="get_session") == fetched_before  # the enrichment travelled
    assert deadletters(bridge_env) == []


def test_unreadable_messages_are_listed_not_replayed(bridge_env):
    import base64

    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(
        bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"] + "-poison"
    )
    client.create_queue()
    client.send_message(base64.b64encode(b"not json at all +14155550123").decode())
    listed = replay(bridge_env, "list", "--source", "poison")
    assert [(r["reason"], r["replayable"]) for r in listed] == [("unparseable", False)]
    done = replay(bridge_env, "redrive", "--all", "--source", "poison")
    assert [r["result"] for r in done] == ["skipped (no handoff message to replay)"]
    assert (
        len(queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"] + "-poison")) == 1
    )


def test_redrive_needs_a_selection(bridge_env):
    with pytest.raises(SystemExit):
        main(["redrive", "--connection-string", bridge_env["AzureWebJobsStorage"]])
