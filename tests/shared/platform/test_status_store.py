"""The status store against real Azurite tables: create-if-absent, merges, queries, outages."""

import time

import pytest
from helpers import reset_process_caches, with_dead_table_endpoint

from shared.platform.settings import get_settings
from shared.platform.status_store import (
    Status,
    StoreUnavailable,
    decode_key,
    encode_key,
    get_row,
    probe,
    record_accepted,
    record_status,
    session_rows,
    table_name,
)


def test_accepted_is_created_once_and_never_overwrites_a_later_status(bridge_env):
    assert record_accepted("ses_1", "msg_1", "2026-11-25T10:00:00.000+00:00") is True
    assert get_row("ses_1", "msg_1")["status"] == "accepted"
    record_status("ses_1", "msg_1", Status.CREATED, dynamics365_chat_id="abc", attempts=1, channel="sms")
    assert record_accepted("ses_1", "msg_1", "2026-11-25T10:00:00.000+00:00") is False
    row = get_row("ses_1", "msg_1")
    assert row["status"] == "created"
    assert row["dynamics365_chat_id"] == "abc"
    assert row["channel"] == "sms"
    assert row["receivedAt"] == "2026-11-25T10:00:00.000+00:00"  # merge keeps what ingress wrote
    assert get_row("ses_1", "msg_unknown") is None


def test_session_rows_newest_first_without_pii(bridge_env):
    record_accepted("ses_2", "msg_old", "2026-11-25T10:00:00.000+00:00")
    record_accepted("ses_2", "msg_new", "2026-11-25T11:00:00.000+00:00")
    record_status(
        "ses_2",
        "msg_old",
        Status.DEAD_LETTERED,
        lastErrorStatus=404,
        lastErrorMessage="no contact +14155550123 or dana@example.com",
        customerPhone="ignored",
    )
    rows = session_rows("ses_2")
    assert [row["handoffId"] for row in rows] == ["msg_new", "msg_old"]
    assert rows[1]["status"] == "dead_lettered"
    assert rows[1]["lastErrorStatus"] == 404
    text = repr(rows)
    assert "4155550123" not in text and "dana@" not in text and "customerPhone" not in text
    assert session_rows("ses_none") == []


def test_keys_with_forbidden_characters_round_trip(bridge_env):
    session = "ses/with#odd?chars%"
    assert encode_key(session) != session and decode_key(encode_key(session)) == session
    record_accepted(session, "msg_odd", "2026-11-25T10:00:00.000+00:00")
    [row] = session_rows(session)
    assert row["sessionId"] == session


def test_table_is_named_after_the_queue(bridge_env, monkeypatch):
    assert table_name(get_settings()).startswith("handoffs")
    assert "-" not in table_name(get_settings())
    monkeypatch.setenv("HANDOFF_QUEUE", "handoffs")
    reset_process_caches()
    assert table_name(get_settings()) == "handoffs"
    monkeypatch.setenv("HANDOFF_STATUS_TABLE", "custom")
    reset_process_caches()  # settings are read once per process
    assert table_name(get_settings()) == "custom"


def test_an_outage_raises_store_unavailable_quickly(bridge_env, monkeypatch):
    monkeypatch.setenv("AzureWebJobsStorage", with_dead_table_endpoint(bridge_env["AzureWebJobsStorage"]))
    reset_process_caches()
    started = time.monotonic()
    for call in (
        lambda: get_row("ses_1", "msg_1"),
        lambda: record_accepted("ses_1", "msg_1", "x"),
        lambda: record_status("ses_1", "msg_1", Status.CREATED),
        probe,
    ):
        with pytest.raises(StoreUnavailable):
            call()
    assert time.monotonic() - started < 10


def test_v2_outcome_fields_are_public_and_customer_fields_are_not(bridge_env):
    record_accepted("ses_3", "h_dup", "2026-11-25T10:00:00.000+00:00")
    record_status(
        "ses_3", "h_dup", Status.DUPLICATE, duplicate_of="row-1", throttled=2, summary="Dana's order"
    )
    record_status(
        "ses_3", "h_inc", Status.CREATED, dynamics365_incident_id="inc-1", ticketnumber="CAS-01001-AB",
        contactLinkage="created", createdAt="2026-11-25T10:01:00.000+00:00",
    )  # fmt: skip
    rows = {row["handoffId"]: row for row in session_rows("ses_3")}
    assert rows["h_dup"]["status"] == "duplicate" and rows["h_dup"]["duplicate_of"] == "row-1"
    assert rows["h_dup"]["throttled"] == 2
    assert "summary" not in rows["h_dup"] and "Dana" not in repr(rows)
    assert rows["h_inc"]["dynamics365_incident_id"] == "inc-1"
    assert rows["h_inc"]["ticketnumber"] == "CAS-01001-AB"
    assert rows["h_inc"]["contactLinkage"] == "created"


def test_a_short_queue_name_still_derives_a_valid_table_name():
    import re

    from helpers import bridge_environment

    from shared.platform.settings import load_settings
    from shared.platform.status_store import table_name

    name = table_name(load_settings(bridge_environment("UseDevelopmentStorage=true", "a-b")))
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{2,62}", name), name
