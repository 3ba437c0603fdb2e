"""send_notice, as the relay will call it: (session, template, values, language) once by key,
against the OpenCX simulator and Azurite; the write-back once per session; nothing sent when the
ledger cannot promise once."""

from __future__ import annotations

import pytest

from devtools.opencx_sim import SMS_SESSION_ID
from shared.concierge import ledger
from shared.concierge.notices import send_notice
from shared.platform.status_store import StoreUnavailable

VALUES = {"position": "2", "wait": "about 3 minutes"}


def test_once_by_key_and_the_write_back_rides_the_first_message(bridge_env, opencx):
    first = send_notice(
        SMS_SESSION_ID,
        "queued",
        VALUES,
        "en",
        key="conv-1:position:1",
        custom_data={"dynamics365_chat_id": "c1"},
    )
    again = send_notice(
        SMS_SESSION_ID,
        "queued",
        VALUES,
        "en",
        key="conv-1:position:1",
        custom_data={"dynamics365_chat_id": "c1"},
    )
    other = send_notice(
        SMS_SESSION_ID, "queued", {"position": "1"}, "es", key="conv-1:position:2",
        custom_data={"dynamics365_chat_id": "c1"},
    )  # fmt: skip
    assert (first.outcome, again.outcome, other.outcome) == ("sent", "already", "sent")
    sent = opencx.sent_to(SMS_SESSION_ID)
    assert [m.text for m in sent] == [
        "A person will reply here soon. You are number 2 in line. The usual wait is about 3 minutes.",
        "Una persona te responderá aquí. Vas 1º en la fila.",
    ]
    assert [m.body.get("custom_data") for m in sent] == [{"dynamics365_chat_id": "c1"}, None]
    assert first.wrote_back and not other.wrote_back


def test_nothing_to_say_claims_nothing(bridge_env, opencx):
    result = send_notice(SMS_SESSION_ID, "closed_chat", {"opens": None}, "en", key="h:closed_chat")
    assert result.outcome == "nothing_to_say"
    assert opencx.sent_to(SMS_SESSION_ID) == []
    assert ledger.read(SMS_SESSION_ID, "h:closed_chat") is None


def test_a_ledger_that_cannot_be_written_sends_nothing(bridge_env, opencx, monkeypatch: pytest.MonkeyPatch):
    def down(*_args: object, **_kwargs: object) -> bool:
        raise StoreUnavailable("down")

    monkeypatch.setattr(ledger, "claim", down)
    result = send_notice(SMS_SESSION_ID, "queued", VALUES, "en", key="h:queued")
    assert result.outcome == "ledger_unavailable"
    assert opencx.sent_to(SMS_SESSION_ID) == []


def test_a_refused_send_is_recorded_failed_and_not_repeated(bridge_env, opencx):
    from devtools.opencx_sim import FaultRule

    opencx.add_fault(FaultRule(kind="status", operation="send", status=500, times=5))
    assert send_notice(SMS_SESSION_ID, "queued", VALUES, "en", key="h:q").outcome == "failed"
    tried = opencx.count("send")  # the client's own inline retries of a bare 5xx (nothing was accepted)
    assert send_notice(SMS_SESSION_ID, "queued", VALUES, "en", key="h:q").outcome == "already"
    assert ledger.read(SMS_SESSION_ID, "h:q")["state"] == "failed"
    assert opencx.count("send") == tried
