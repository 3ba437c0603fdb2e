"""The live work item's payload (docs/contract.md section 5.2), built in memory."""

from __future__ import annotations

import uuid

import pytest
from handoffs import SESSION, make_handoff

from shared.dynamics.columns import DYNAMICS_NAMESPACE, derived_id, utf16_length
from shared.dynamics.contact import ContactMatch, Linkage
from shared.dynamics.work_item import (
    CONTACT_BIND,
    CONTEXT_ITEMS_NAV,
    CONTEXT_VALUE_MAX,
    WORKSTREAM_BIND,
    description,
    work_item_id,
    work_item_payload,
)
from shared.opencx.session import Customer, TranscriptLine

WS = "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"
UNLINKED = ContactMatch(None, Linkage.NONE, "no_match")


def context(payload: dict) -> dict[str, str]:
    return {c["msdyn_name"]: c["msdyn_value"] for c in payload[CONTEXT_ITEMS_NAV]}


def test_activityid_is_uuid5_of_conversation_and_handoff():
    expected = str(uuid.uuid5(DYNAMICS_NAMESPACE, f"{SESSION}\nh_1"))
    assert work_item_id(make_handoff()) == expected
    assert work_item_id(make_handoff(session_id="other")) != expected  # a reused header id stays apart
    assert work_item_id(make_handoff(handoff_id="h_2")) != expected


def test_legacy_ids_keep_the_v1_derivation():
    legacy = make_handoff(legacy_ids=True)
    assert (
        work_item_id(legacy)
        == str(uuid.uuid5(DYNAMICS_NAMESPACE, "h_1"))
        == derived_id("x", "h_1", legacy=True)
    )


@pytest.mark.parametrize(
    ("channel", "option"), [("sms", "192340000"), ("whatsapp", "192300000"), ("web", "192360000")]
)
def test_payload_fields(channel, option):
    handoff = make_handoff(channel=channel)
    payload = work_item_payload(handoff, WS, ContactMatch("c-1", Linkage.PHONE, "matched_phone"))
    assert payload["activityid"] == payload["msdyn_ocliveworkitemid"] == work_item_id(handoff)
    assert payload["subject"] == handoff.summary
    assert payload["msdyn_channel"] == option
    assert payload[WORKSTREAM_BIND] == f"/msdyn_liveworkstreams({WS})"
    assert payload[CONTACT_BIND] == "/contacts(c-1)"
    ctx = context(payload)
    assert ctx == {
        "sessionId": SESSION,
        "channel": channel,
        "customerPhone": "+14155550123",
        "customerName": "Dana Reyes",
        "language": "en",
        "reason": "Delivery change",
        "sentiment": "neutral",
    }
    assert all(c["msdyn_isdisplayable"] is True for c in payload[CONTEXT_ITEMS_NAV])


def test_unlinked_has_no_contact_bind_and_unknowns_are_left_out():
    payload = work_item_payload(
        make_handoff(customer=Customer(), language=None, sentiment=None), WS, UNLINKED
    )
    assert CONTACT_BIND not in payload
    assert set(context(payload)) == {"sessionId", "channel", "reason"}


def test_subject_is_cut_to_200_utf16_units_and_whitespace_folded():
    summary = "Line one\n\n" + "😀" * 300
    subject = work_item_payload(make_handoff(summary=summary), WS, UNLINKED)["subject"]
    assert utf16_length(subject) <= 200
    assert subject.startswith("Line one 😀")
    assert "\n" not in subject


def test_context_values_at_most_512_and_names_at_most_100():
    handoff = make_handoff(customer=Customer(name="N" * 5000, email="e" * 600 + "@example.com"))
    items = work_item_payload(handoff, WS, UNLINKED)[CONTEXT_ITEMS_NAV]
    assert all(utf16_length(c["msdyn_value"]) <= CONTEXT_VALUE_MAX == 512 for c in items)
    assert all(len(c["msdyn_name"]) <= 100 for c in items)
    assert context({CONTEXT_ITEMS_NAV: items})["customerName"].startswith("NNNN")


def test_description_keeps_the_newest_transcript_lines_within_2000():
    lines = tuple(TranscriptLine(role="customer", text=f"message {i:03d} " + "x" * 80) for i in range(100))
    text = description(make_handoff(transcript=lines))
    assert utf16_length(text) <= 2000
    assert text.startswith("Customer wants to move delivery")
    assert "message 099" in text and "message 000" not in text
    assert "Phone: +14155550123" in text and f"Session: {SESSION}" in text
