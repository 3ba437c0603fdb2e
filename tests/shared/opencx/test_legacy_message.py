"""v1 queue messages, read as v2 (shared/opencx/legacy_message.py), and loaded only when one arrives."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import ROOT, V1_FIXTURES
from pydantic import ValidationError

from shared.opencx.handoff_message import parse_message

TRACEPARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


def v1_text(**overrides) -> str:
    data = json.loads((V1_FIXTURES / "sms-handoff.json").read_text())["data"]
    body = {
        "v": 1,
        "handoffId": "msg_v1",
        "attempt": 2,
        "receivedAt": "2026-11-25T10:00:01Z",
        "traceparent": TRACEPARENT,
        "handoff": data,
    }
    body.update(overrides)
    return json.dumps(body)


def test_v1_message_is_upgraded_with_a_complete_enrichment():
    m = parse_message(v1_text())
    assert m.v == 2 and m.legacyIds
    assert (m.handoffId, m.attempt, m.traceparent) == ("msg_v1", 2, TRACEPARENT)
    assert m.event.conversation_id == "ses_01JDX4SMS7Q2"
    assert m.event.summary.startswith("Customer wants to move delivery")
    assert m.enrichment.channel == "sms" and m.enrichment.historyComplete
    assert m.enrichment.customer.phone == "+14155550123" and m.enrichment.customer.name == "Dana Reyes"
    assert m.enrichment.transcript[0].text.startswith("Hi, my order 1182")
    assert m.enrichment.transcript[0].at.startswith("2026-11-25T09:58:02")
    assert parse_message(m.to_json()).legacyIds  # survives a re-enqueue as v2


@pytest.mark.parametrize("name", ["web-handoff.json", "whatsapp-handoff.json"])
def test_every_v1_fixture_upgrades(name):
    data = json.loads((V1_FIXTURES / name).read_text())["data"]
    m = parse_message(v1_text(handoff=data))
    assert m.enrichment.channel == data["channel"] and m.event.conversation_id == data["sessionId"]


def test_a_v1_session_id_that_v2_would_refuse_is_still_delivered_and_survives_a_retry():
    data = json.loads((V1_FIXTURES / "sms-handoff.json").read_text())["data"]
    m = parse_message(v1_text(handoff={**data, "sessionId": "ses/with#odd?chars"}))
    assert m.event.conversation_id == "ses/with#odd?chars" and m.legacyIds
    again = parse_message(m.to_json())  # re-enqueued as v2 after a failure
    assert again.event.conversation_id == "ses/with#odd?chars"
    with pytest.raises(ValidationError):  # a v2 message of its own still follows v2's rules
        parse_message(json.dumps(json.loads(m.to_json()) | {"legacyIds": False}))


def test_the_app_loads_the_v1_models_only_when_a_v1_message_arrives():
    script = (
        "import sys, function_app\n"
        "from shared.opencx.handoff_message import parse_message\n"
        "print('shared.opencx.legacy_message' in sys.modules)\n"
        f"parse_message({v1_text()!r})\n"
        "print('shared.opencx.legacy_message' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
