"""The replay CLI end to end: dead-letter on a permanent error, fix the cause, replay, one item."""

import io
import json
import uuid

from helpers import (
    WORKSTREAM_ID,
    drain_like_host,
    enqueue_handoff,
    queue_messages,
    reset_process_caches,
)

from devtools.replay import main
from shared.dynamics.work_item import work_item_id
from shared.platform.status_store import get_row

SESSION = "ses_01JDX4SMS7Q2"


def replay(env, *args: str) -> list[dict]:
    out = io.StringIO()
    assert (
        main([*args, "--connection-string", env["AzureWebJobsStorage"], "--queue", env["HANDOFF_QUEUE"]], out)
        == 0
    )
    text = out.getvalue()
    for pii in ("4155550123", "Dana Reyes"):
        assert pii not in text
    if args[0] == "show":
        return [json.loads(text)] if text else []
    return [json.loads(line) for line in text.splitlines() if line]


def drain(env) -> None:
    drain_like_host("retry_queue", idle_seconds=1.0)


def test_dead_letter_fix_replay_exactly_one_work_item(bridge_env, dataverse, monkeypatch):
    queue = bridge_env["HANDOFF_QUEUE"]
    monkeypatch.setenv("DEFAULT_QUEUE_ID", str(uuid.uuid4()))  # not a workstream: 404, permanent
    reset_process_caches()
    enqueue_handoff(bridge_env["AzureWebJobsStorage"], queue, "msg_replay")
    enqueue_handoff(bridge_env["AzureWebJobsStorage"], queue, "msg_other", data=None)
    drain(bridge_env)
    assert dataverse.work_items == []
    assert get_row(SESSION, "msg_replay")["status"] == "dead_lettered"

    listed = replay(bridge_env, "list", "--source", "deadletter")
    assert sorted(r["handoffId"] for r in listed) == ["msg_other", "msg_replay"]
    assert {r["reason"] for r in listed} == {"permanent_error"}
    assert all(r["lastStatus"] == 404 and r["replayable"] for r in listed)
    [shown] = replay(bridge_env, "show", "--handoff-id", "msg_replay")
    assert shown["handoff"]["customer"]["phone"].endswith("0123")
    assert "DEFAULT_QUEUE_ID" in shown["action"]

    monkeypatch.setenv("DEFAULT_QUEUE_ID", WORKSTREAM_ID)  # the fix
    reset_process_caches()
    dry = replay(bridge_env, "redrive", "--handoff-id", "msg_replay", "--dry-run")
    assert [r["result"] for r in dry] == ["would re-drive"]
    assert queue_messages(bridge_env["AzureWebJobsStorage"], queue) == []
    assert len(queue_messages(bridge_env["AzureWebJobsStorage"], queue + "-deadletter")) == 2

    done = replay(bridge_env, "redrive", "--handoff-id", "msg_replay")
    assert [r["result"] for r in done] == ["re-driven"]
    [text] = queue_messages(bridge_env["AzureWebJobsStorage"], queue)
    message = json.loads(text)
    assert message["handoffId"] == "msg_replay" and message["attempt"] == 0 and not message.get("history")
    assert [
        json.loads(t)["handoffId"]
        for t in queue_messages(bridge_env["AzureWebJobsStorage"], queue + "-deadletter")
    ] == ["msg_other"]

    drain(bridge_env)
    [item] = dataverse.work_items
    assert item["activityid"] == work_item_id("msg_replay")
    row = get_row(SESSION, "msg_replay")
    assert row["status"] == "created" and row["dynamics365_chat_id"] == work_item_id("msg_replay")

    # the same handoff stranded on the poison queue too: re-driving it again creates nothing new
    enqueue_handoff(bridge_env["AzureWebJobsStorage"], queue + "-poison", "msg_replay")
    again = replay(bridge_env, "redrive", "--source", "poison", "--all")
    assert [(r["source"], r["result"]) for r in again] == [("poison", "re-driven")]
    drain(bridge_env)
    assert len(dataverse.work_items) == 1
    assert queue_messages(bridge_env["AzureWebJobsStorage"], queue + "-poison") == []


def test_redrive_needs_a_selection(bridge_env):
    import pytest

    with pytest.raises(SystemExit):
        main(["redrive", "--connection-string", bridge_env["AzureWebJobsStorage"]])
