"""The incident and contact payloads (docs/contract.md section 5.3), built in memory from load_settings."""

from __future__ import annotations

import uuid

import pytest
from handoffs import SESSION, make_handoff
from helpers import bridge_environment

from shared.dynamics.columns import DYNAMICS_NAMESPACE, derived_id, utf16_length
from shared.dynamics.incident import (
    CUSTOMER_BIND,
    OWNER_BIND,
    contact_id_for,
    contact_payload,
    description,
    incident_id,
    incident_payload,
    title,
)
from shared.opencx.session import Customer, TranscriptLine
from shared.platform.settings import SettingsError, load_settings

OWNER = "0c8a5c7e-3f5e-4d6b-9a1c-2b3c4d5e6f70"


def settings(**overrides: str):
    return load_settings(bridge_environment("UseDevelopmentStorage=true", "handoffs", **overrides))


def test_incidentid_is_uuid5_of_conversation_and_handoff():
    assert incident_id(make_handoff()) == str(uuid.uuid5(DYNAMICS_NAMESPACE, f"{SESSION}\nh_1"))


@pytest.mark.parametrize(
    ("contact_reason", "customer", "expected"),
    [
        (
            "Billing dispute",
            Customer(name="Priya Natarajan", email="p@example.com"),
            "Billing dispute - Priya Natarajan",
        ),
        (None, Customer(email="p@example.com"), "Support - p@example.com"),
        (None, Customer(phone="+442079460321"), "Support - Anonymous"),
    ],
)
def test_title(contact_reason, customer, expected):
    assert title(make_handoff(contact_reason=contact_reason, customer=customer)) == expected


def test_title_is_at_most_200():
    assert utf16_length(title(make_handoff(contact_reason="R" * 500))) <= 200


def test_description_header_then_timestamped_transcript_newest_kept():
    lines = tuple(
        TranscriptLine(
            role="customer", text=f"line {i:03d} " + "y" * 60, at=f"2026-11-25T10:{i % 60:02d}:00Z"
        )
        for i in range(100)
    )
    text = description(make_handoff(channel="email", transcript=lines))
    assert utf16_length(text) <= 2000
    head, _, transcript = text.partition("\n\nTranscript:")
    assert (
        "Channel: email" in head
        and "Summary: Customer wants" in head
        and f"OpenCX conversation: {SESSION}" in head
    )
    assert "[2026-11-25T10:39:00Z] customer: line 099" in transcript
    assert "line 000" not in transcript


def test_payload_priority_customer_owner_and_extra_fields():
    s = settings(
        INCIDENT_PRIORITY="1",
        INCIDENT_OWNER_ID=OWNER,
        INCIDENT_EXTRA_FIELDS='{"new_source": "OpenCX", "incidentid": "not ours"}',
    )
    payload = incident_payload(make_handoff(), "c-1", s)
    assert payload["prioritycode"] == 1
    assert payload[CUSTOMER_BIND] == "/contacts(c-1)"
    assert payload[OWNER_BIND] == f"/systemusers({OWNER})"
    assert payload["new_source"] == "OpenCX"
    assert payload["incidentid"] == incident_id(make_handoff())  # ours win over the extra fields


def test_team_owner_and_defaults():
    team = incident_payload(
        make_handoff(), "c-1", settings(INCIDENT_OWNER_ID=OWNER, INCIDENT_OWNER_TYPE="team")
    )
    assert team[OWNER_BIND] == f"/teams({OWNER})"
    plain = incident_payload(make_handoff(), "c-1", settings())
    assert plain["prioritycode"] == 2 and OWNER_BIND not in plain


def test_bad_extra_fields_name_the_setting_never_the_value():
    with pytest.raises(SettingsError) as caught:
        settings(INCIDENT_EXTRA_FIELDS='["secret-ish value"]')
    assert "INCIDENT_EXTRA_FIELDS" in str(caught.value)
    assert "secret-ish" not in str(caught.value)


@pytest.mark.parametrize(
    ("customer", "key"),
    [
        (Customer(email="Priya.N@Example.com", phone="+14155550123"), "priya.n@example.com"),
        (Customer(phone="+14155550123"), "+14155550123"),
        (Customer(), f"opencx:{SESSION}"),
    ],
)
def test_created_contact_id_is_derived_from_email_else_phone_else_conversation(customer, key):
    handoff = make_handoff(customer=customer)
    assert contact_id_for(handoff) == derived_id("contact", key)
    assert contact_id_for(make_handoff(customer=customer, handoff_id="other")) == contact_id_for(handoff)


def test_contact_payload_names():
    full = contact_payload(make_handoff(customer=Customer(name="Ana María López", email="a@example.com")))
    assert (full["firstname"], full["lastname"], full["emailaddress1"]) == (
        "Ana María",
        "López",
        "a@example.com",
    )
    anonymous = contact_payload(make_handoff(customer=Customer(phone="+14155550123")))
    assert anonymous["lastname"] == "Anonymous" and "firstname" not in anonymous
    assert anonymous["mobilephone"] == "+14155550123"
    assert SESSION in anonymous["description"]


class _NoRepresentationDataverse:
    """A narrow stand-in: a server that answers the create 204 without a body (it ignored
    Prefer: return=representation), and serves the ticket number on a read."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def request(self, method: str, path: str, operation: str, **_: object):
        from shared.platform.http import HttpResult

        self.calls.append((method, operation))
        return HttpResult(status=204)

    def post(self, path: str, operation: str, payload: dict):
        return self.request("POST", path, operation)

    def get(self, path: str, operation: str, params: dict | None = None):
        from shared.platform.http import HttpResult

        self.calls.append(("GET", operation))
        return HttpResult(status=200, body={"ticketnumber": "CAS-01000-ABC123"})


def test_a_ticket_number_the_create_did_not_return_is_read_once():
    from shared.dynamics.contact import ContactMatch, Linkage
    from shared.dynamics.incident import create_incident

    client = _NoRepresentationDataverse()
    outcome = create_incident(
        client,  # type: ignore[arg-type]
        make_handoff(channel="email"),
        ContactMatch("7a1f0c2e-0000-4000-8000-000000000001", Linkage.EMAIL, "matched_email"),
        settings(),
    )
    assert outcome.response.ok and outcome.ticket_number == "CAS-01000-ABC123"
    assert client.calls == [("POST", "create_incident"), ("GET", "get_incident")]


def test_values_past_the_contact_columns_lengths_stay_out_of_the_contact():
    """Review finding: a 120-character email or an un-normalised long phone made every create, and
    every replay, a 400."""
    long_email = "a" * 110 + "@example.com"
    payload = contact_payload(
        make_handoff(channel="email", customer=Customer(name="Dana Reyes", email=long_email, phone="x" * 60))
    )
    assert "emailaddress1" not in payload and "mobilephone" not in payload
    assert payload["lastname"] == "Reyes"
