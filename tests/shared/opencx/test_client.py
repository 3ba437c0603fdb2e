"""OpenCXClient against the simulator: Bearer key, error bodies, Retry-After, inline retries, and the
key never in a log line."""

from __future__ import annotations

import logging

from logs import assert_never_logged, own_records

from devtools.opencx_sim import SMS_SESSION_ID, FaultRule
from shared.opencx.client import OpenCXClient, opencx_client, read_opencx_error, session_path


def test_session_path_quotes_the_id():
    assert session_path("a/b?c#d") == "/chat/sessions/a%2Fb%3Fc%23d"


def test_reads_the_documented_error_body_and_others():
    assert read_opencx_error({"statusCode": 401, "message": "Unauthorized", "error": "Unauthorized"}) == (
        "401",
        "Unauthorized",
    )
    assert read_opencx_error({"error": {"code": "E1", "message": "m"}}) == ("E1", "m")
    assert read_opencx_error({}) == (None, None)


def test_get_session_and_history_with_the_configured_key(opencx):
    client = opencx_client()
    session = client.get_session(SMS_SESSION_ID)
    history = client.get_history(SMS_SESSION_ID)
    assert session.ok and session.body["channel"]["type"] == "sms"
    assert history.ok and history.body["next"] is None
    assert opencx.count(status=200) == 2


def test_wrong_key_is_401_not_retried(opencx, caplog):
    caplog.set_level(logging.DEBUG)
    client = OpenCXClient(opencx.url, "ocx_wrong_key_value", inline_retry_pauses=(0.01,))
    answer = client.get_session(SMS_SESSION_ID)
    assert answer.status == 401 and answer.error_message == "Unauthorized"
    assert opencx.count() == 1
    assert_never_logged(own_records(caplog), "ocx_wrong_key_value", opencx.env()["OPENCX_API_KEY"])


def test_429_carries_retry_after_and_is_not_retried_inline(opencx):
    opencx.add_fault(FaultRule("status", operation="get_session", status=429, retry_after=5))
    answer = OpenCXClient(
        opencx.url, opencx.env()["OPENCX_API_KEY"], inline_retry_pauses=(0.01,)
    ).get_session(SMS_SESSION_ID)
    assert (answer.status, answer.retry_after) == (429, 5.0)
    assert opencx.count("get_session") == 1


def test_real_rate_limit_answers_429_with_retry_after(opencx):
    opencx.rate_limit = 2
    opencx.rate_window = 60.0
    client = OpenCXClient(opencx.url, opencx.env()["OPENCX_API_KEY"], inline_retry_pauses=())
    answers = [client.get_session(SMS_SESSION_ID) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 429]
    assert answers[2].retry_after is not None and 0 < answers[2].retry_after <= 60


def test_5xx_and_drops_are_retried_inline_then_returned(opencx):
    client = OpenCXClient(opencx.url, opencx.env()["OPENCX_API_KEY"], inline_retry_pauses=(0.01, 0.01))
    opencx.add_fault(FaultRule("drop_before", operation="get_session", times=1))
    assert client.get_session(SMS_SESSION_ID).ok
    opencx.add_fault(FaultRule("status", operation="list_history", status=502))
    answer = client.get_history(SMS_SESSION_ID)
    assert answer.status == 502 and opencx.count("list_history") == 3


def test_timeout_is_a_transport_failure(opencx):
    opencx.add_fault(FaultRule("slow", operation="get_session", delay=1.0))
    client = OpenCXClient(
        opencx.url, opencx.env()["OPENCX_API_KEY"], read_timeout=0.2, inline_retry_pauses=()
    )
    answer = client.get_session(SMS_SESSION_ID)
    assert answer.status is None and answer.transport_error


def test_a_send_whose_answer_was_lost_is_not_sent_again_inline(opencx):
    """OpenCX's send has no idempotency key: a dropped answer may mean the customer already has
    the message, so the client returns the failure instead of sending it a second time (the relay
    decides, with its outbox). A connection that never opened is still retried: nothing was sent."""
    opencx.add_fault(FaultRule("drop_after_commit", operation="send", times=1))
    client = opencx_client()
    body = {"sender": "agent", "message": {"type": "text", "text": "On my way"}}
    result = client.send_message(SMS_SESSION_ID, body)
    assert result.status is None and result.transport_error
    assert [m.text for m in opencx.sent_to(SMS_SESSION_ID)] == ["On my way"]  # once, not twice


def test_a_session_update_is_retried_inline_after_a_lost_answer(opencx):
    opencx.add_fault(FaultRule("drop_after_commit", operation="update_session", times=1))
    result = opencx_client().update_session(SMS_SESSION_ID, {"status": "closed_resolved"})
    assert result.ok  # setting a status twice is harmless
