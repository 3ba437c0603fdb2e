"""The concierge at handoff (docs/concierge.md) through worker.handle, against Azurite and both
simulators over loopback HTTP: closed queue, open queue with a line, refused or slow API."""

from __future__ import annotations

import pytest
from worker_support import dataverse_calls, handle, message_for, opencx_calls, settings_env, status_of

from devtools.dataverse_sim import FaultRule as DvFault
from devtools.opencx_sim import SMS_SESSION_ID
from shared.concierge import ledger

NIGHT = "2026-12-08T03:00:00Z"  # Tuesday 22:00 in New York: closed until 9:00 AM Tuesday
DAY = "2026-12-08T15:30:00Z"  # Tuesday 10:30 in New York: open
NEW_YORK_HOURS = {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def concierge(bridge_env, dataverse, opencx, monkeypatch):
    settings_env(monkeypatch, CONCIERGE="true", CONCIERGE_TIME_ZONE="America/New_York")
    dataverse.availability.configure(
        {"enabled": True, "time_zone": "America/New_York", "hours": NEW_YORK_HOURS}
    )
    return dataverse


def notices(opencx_sim):
    return [m for m in opencx_sim.sent_to(SMS_SESSION_ID)]


def test_closed_queue_creates_the_chat_and_tells_the_customer_when_the_team_is_back(concierge, opencx):
    concierge.availability.pin_clock(NIGHT)
    message = message_for(handoff_id="h_night")
    assert handle(message) == "created"
    [item] = concierge.work_items
    [sent] = notices(opencx)
    assert "9:00 AM Tue" in (sent.text or "")
    assert "EST" in (sent.text or "")
    assert sent.agent_name == "Automated message"
    assert sent.body["should_take_over_session_from_ai"] is False
    assert sent.body["custom_data"] == {"dynamics365_chat_id": item["activityid"]}
    assert opencx.session(SMS_SESSION_ID)["custom_data"]["dynamics365_chat_id"] == item["activityid"]
    row = status_of(message)
    assert row["availability"] == "closed"
    assert row["nextOpening"].startswith("2026-12-08T14:00:00")
    assert (row["notice"], row["noticeOutcome"]) == ("closed_chat", "sent")
    assert dataverse_calls(concierge)["availability_before"] == 1


def test_closed_queue_with_after_hours_incident_opens_a_case_instead_of_a_chat(
    concierge, opencx, monkeypatch
):
    settings_env(monkeypatch, AFTER_HOURS="incident")
    concierge.availability.pin_clock(NIGHT)
    message = message_for(handoff_id="h_case")
    assert handle(message) == "created"
    assert concierge.work_items == []
    [incident] = concierge.incidents
    [sent] = notices(opencx)
    assert incident["ticketnumber"] in (sent.text or "")
    assert "9:00 AM Tue" in (sent.text or "")
    assert sent.body["custom_data"] == {
        "dynamics365_incident_id": incident["incidentid"],
        "ticketnumber": incident["ticketnumber"],
    }
    row = status_of(message)
    assert row["dynamics365_incident_id"] == incident["incidentid"]
    assert row["afterHours"] == "incident"


def test_open_queue_with_a_line_acknowledges_place_and_wait(concierge, opencx):
    concierge.availability.pin_clock(DAY)
    concierge.availability.configure({"line": 3, "average_wait_seconds": 185, "experts": 2})
    message = message_for(handoff_id="h_day")
    assert handle(message) == "created"
    [sent] = notices(opencx)
    assert "number 4 in line" in (sent.text or "")
    assert "about 3 minutes" in (sent.text or "")
    row = status_of(message)
    assert (row["availability"], row["positionInQueue"], row["averageWaitSeconds"]) == ("open", 4, 185)


def test_open_queue_with_nothing_known_sends_nothing(concierge, opencx):
    concierge.availability.pin_clock(DAY)
    message = message_for(handoff_id="h_quiet")
    assert handle(message) == "created"
    assert notices(opencx) == []
    assert status_of(message)["availability"] == "open"
    assert status_of(message).get("notice") is None


def test_spanish_handoff_gets_the_spanish_notice_in_24_hours(concierge, opencx, monkeypatch):
    from helpers import sample_event

    concierge.availability.pin_clock(NIGHT)
    message = message_for(sample_event(language="es"), handoff_id="h_es")
    assert handle(message) == "created"
    [sent] = notices(opencx)
    assert "mar 9:00" in (sent.text or "")
    assert len(sent.text or "") <= 70


@pytest.mark.parametrize(
    "fault",
    [
        None,  # the feature is off: 405 "API not allowed"
        DvFault("status", operation="availability_before", status=429, retry_after=1, times=5),
        DvFault("slow", operation="availability_before", delay=1.5, times=5),
    ],
    ids=["405", "429", "timeout"],
)
def test_unknown_availability_creates_the_handoff_exactly_as_today(concierge, opencx, monkeypatch, fault):
    settings_env(monkeypatch, CONCIERGE_TIMEOUT_SECONDS="0.5")
    if fault is None:
        concierge.availability.configure({"enabled": False})
    else:
        concierge.add_fault(fault)
    message = message_for(handoff_id="h_unknown")
    assert handle(message) == "created"
    assert len(concierge.work_items) == 1
    assert notices(opencx) == []
    assert concierge.wait_idle()  # a timed-out request is recorded when the simulator finishes it
    assert dataverse_calls(concierge)["availability_before"] == 1  # never retried inline
    row = status_of(message)
    assert row["status"] == "created"
    assert row["availability"] == "unknown"
    assert row["availabilityReason"] in ("http_405", "http_429", "timeout")


def test_redelivery_sends_nothing_twice_and_keeps_the_decision(concierge, opencx):
    concierge.availability.pin_clock(NIGHT)
    message = message_for(handoff_id="h_twice")
    assert handle(message) == "created"
    concierge.availability.pin_clock(DAY)  # the queue opened meanwhile: the decision stays
    concierge.availability.configure({"line": 2, "average_wait_seconds": 60})
    assert handle(message) == "created"
    assert handle(message) == "created"
    assert len(notices(opencx)) == 1
    assert len(concierge.work_items) == 1
    assert dataverse_calls(concierge)["availability_before"] == 1
    assert opencx_calls(opencx)["send"] == 1
    entries = ledger.session_entries(SMS_SESSION_ID)
    assert sorted(entry["key"] for entry in entries) == [
        "custom_data", "h_twice:availability", "h_twice:closed_chat",
    ]  # fmt: skip


def test_custom_data_is_written_once_per_session(concierge, opencx):
    concierge.availability.pin_clock(NIGHT)
    assert handle(message_for(handoff_id="h_first")) == "created"
    later = message_for(handoff_id="h_second", dedupPassed=True)  # a second handoff, past the dedup
    assert handle(later) == "created"
    assert len(notices(opencx)) == 2
    with_data = [m for m in notices(opencx) if "custom_data" in m.body]
    assert len(with_data) == 1


def test_concierge_off_calls_nothing(bridge_env, dataverse, opencx):
    dataverse.availability.configure({"enabled": True})
    assert handle(message_for(handoff_id="h_off")) == "created"
    assert dataverse_calls(dataverse)["availability_before"] == 0
    assert opencx.sent_to(SMS_SESSION_ID) == []


def test_a_duplicate_asks_dynamics_nothing(concierge, opencx):
    concierge.availability.pin_clock(NIGHT)
    assert handle(message_for(handoff_id="h_one")) == "created"
    assert handle(message_for(handoff_id="h_dup")) == "duplicate"
    assert dataverse_calls(concierge)["availability_before"] == 1
    assert len(notices(opencx)) == 1
