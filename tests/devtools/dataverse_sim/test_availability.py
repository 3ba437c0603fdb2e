"""The availability actions over HTTP: 405 until enabled, the schedule in its zone, the scripted line
and wait left out while unscripted, 404/400 for what the service would refuse, and the admin knob."""

from __future__ import annotations

import json

import requests
from dvsim_support import Client

WORKSTREAM = "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"
BEFORE = "CCaaS_GetRepresentativeAvailabilityBeforeConversation"
FOR = "CCaaS_GetRepresentativeAvailabilityForConversation"
HOURS = {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def _before(client: Client, **extra: object) -> requests.Response:
    body = {"ApiVersion": "1.0", "LiveWorkStreamId": WORKSTREAM, "CustomContextItems": "{}", **extra}
    return client.post(BEFORE, body)


def test_refused_with_405_until_enabled(sim, client):
    sim.add_workstream(WORKSTREAM, "SMS")
    answer = _before(client)
    assert answer.status_code == 405
    assert sim.count_requests("availability_before", 405) == 1


def test_closed_at_night_with_the_next_opening_in_utc(sim, client):
    sim.add_workstream(WORKSTREAM, "SMS")
    sim.availability.configure(
        {"enabled": True, "time_zone": "America/New_York", "hours": HOURS, "now": "2026-12-12T15:00:00Z"}
    )  # Saturday: closed until Monday 9:00 New York = 14:00 UTC
    body = _before(client).json()
    assert body["IsQueueAvailable"] is False
    assert body["StartTimeOfNextOperatingHour"] == "2026-12-14T14:00:00Z"
    assert "PositionInQueue" not in body and "AverageWaitTimeInSeconds" not in body
    assert body["AverageWaitTime"] is None


def test_open_with_a_scripted_line_and_wait(sim, client):
    sim.add_workstream(WORKSTREAM, "SMS")
    sim.availability.configure(
        {
            "enabled": True,
            "hours": HOURS,
            "now": "2026-12-08T10:00:00Z",
            "line": 2,
            "average_wait_seconds": 90,
            "experts": 1,
        }
    )
    body = _before(client).json()
    assert body["IsQueueAvailable"] is True
    assert body["StartTimeOfNextOperatingHour"] == "0001-01-01T00:00:00Z"
    assert (body["PositionInQueue"], body["AverageWaitTimeInSeconds"]) == (3, 90)
    assert body["NextTransitionTime"] == "2026-12-08T17:00:00Z"


def test_what_the_service_would_refuse(sim, client):
    sim.availability.configure({"enabled": True})
    assert _before(client).status_code == 404  # unknown workstream
    sim.add_workstream(WORKSTREAM, "SMS")
    assert _before(client, CustomContextItems={"a": {"value": "b"}}).status_code == 400  # not a string
    assert _before(client, ApiVersion="2.0").status_code == 400
    assert client.post(FOR, {"ApiVersion": "1.0", "ConversationId": "nope"}).status_code == 404


def test_for_conversation_reads_a_scripted_position(sim, client):
    sim.availability.configure({"enabled": True, "hours": {}, "positions": {"conv-1": 2}})
    body = client.post(FOR, {"ApiVersion": "1.0", "ConversationId": "conv-1"}).json()
    assert body["IsQueueAvailable"] is False and body["PositionInQueue"] == 2


def test_admin_knob_over_http_and_reset(sim):
    answer = requests.post(f"{sim.url}/_sim/availability", json={"enabled": True, "line": 4}, timeout=5)
    assert answer.status_code == 200 and json.loads(answer.content)["line"] == 4
    sim.reset()
    assert sim.availability.describe()["enabled"] is False
