"""The incident path (docs/contract.md section 5.3) through worker.handle, against both simulators."""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import sample_event
from worker_support import (
    dataverse_calls,
    deadletters,
    handle,
    message_for,
    settings_env,
    spy_requeue,
    status_of,
)

from devtools.dataverse_sim import FaultRule as DvFault
from devtools.opencx_sim import EMAIL_SESSION_ID, PHONE_SESSION_ID
from shared.dynamics.columns import derived_id
from shared.opencx.handoff_message import parse_message


def email_message(handoff_id: str = "h_email"):
    return message_for(sample_event("handoff-email-array.json"), handoff_id)


def test_email_handoff_becomes_one_incident_with_created_contact(bridge_env, dataverse, opencx):
    message = email_message()
    assert handle(message) == "created"
    [incident] = dataverse.incidents
    assert incident["incidentid"] == derived_id(EMAIL_SESSION_ID, "h_email")
    assert incident["title"] == "Billing dispute - Priya Natarajan"
    assert incident["prioritycode"] == 2
    description = incident["description"]
    assert "Channel: email" in description
    assert "Summary: Customer disputes a refund amount on invoice INV-20931" in description
    assert "Transcript:" in description
    assert "[2026-11-25T10:1" in description  # each line carries its timestamp
    [contact] = dataverse.contacts
    assert contact["contactid"] == derived_id("contact", "priya.n@example.com")
    assert contact["emailaddress1"] == "priya.n@example.com"
    assert (contact.get("firstname"), contact["lastname"]) == ("Priya", "Natarajan")
    assert EMAIL_SESSION_ID in contact["description"]
    assert incident["contact_id"] == contact["contactid"]
    row = status_of(message)
    assert row["status"] == "created"
    assert row["dynamics365_incident_id"] == incident["incidentid"]
    assert row["ticketnumber"] == incident["ticketnumber"]
    assert row["contactLinkage"] == "created"
    assert dataverse.work_items == []


def test_existing_active_contact_is_the_customer(bridge_env, dataverse, opencx):
    known = dataverse.add_contact(email="Priya.N@example.com", fullname="Priya Natarajan")
    assert handle(email_message()) == "created"
    [incident] = dataverse.incidents
    assert incident["contact_id"] == known
    assert len(dataverse.contacts) == 1
    assert dataverse_calls(dataverse)["create_contact"] == 0


def test_redelivery_makes_exactly_one_contact_and_one_incident(bridge_env, dataverse, opencx, monkeypatch):
    spy = spy_requeue(monkeypatch)
    dataverse.duplicate_code = ""
    dataverse.add_fault(DvFault("drop_after_commit", operation="create_incident", times=1))
    message = email_message()
    assert handle(message) in ("transient", "created")
    for retry in [*spy.messages(), message, message]:
        assert handle(retry) == "created"
    assert len(dataverse.incidents) == 1
    assert len(dataverse.contacts) == 1
    assert deadletters(bridge_env) == []


def test_phone_voice_handoff_is_an_anonymous_incident(bridge_env, dataverse, opencx):
    body = opencx.handoff_event(PHONE_SESSION_ID)
    message = message_for(body, "h_phone")
    assert handle(message) == "created"
    [incident] = dataverse.incidents
    reason = body["data"].get("contact_reason") or "Support"
    assert incident["title"] == f"{reason} - Anonymous"
    assert "Phone: +442079460321" in incident["description"]
    assert "boiler stopped working" in incident["description"]
    [contact] = dataverse.contacts
    assert contact["contactid"] == derived_id("contact", "+442079460321")
    assert contact["mobilephone"] == "+442079460321"
    assert contact["lastname"] == "Anonymous"


def test_owner_priority_extra_fields_and_queue(bridge_env, dataverse, opencx, monkeypatch):
    owner = dataverse.add_systemuser(str(uuid.uuid4()), "Tier 2")
    queue = dataverse.add_queue(str(uuid.uuid4()), "Billing")
    dataverse.add_incident_columns("new_source")
    settings_env(
        monkeypatch,
        INCIDENT_OWNER_ID=owner,
        INCIDENT_QUEUE_ID=queue,
        INCIDENT_PRIORITY="1",
        INCIDENT_EXTRA_FIELDS=json.dumps({"new_source": "OpenCX", "title": "must not win"}),
    )
    message = email_message()
    assert handle(message) == "created"
    assert handle(message) == "created"  # AddToQueue is safely repeatable
    [incident] = dataverse.incidents
    assert incident["owner_id"] == owner and incident["owner_type"] == "systemuser"
    assert incident["prioritycode"] == 1
    assert incident["new_source"] == "OpenCX"
    assert incident["title"] == "Billing dispute - Priya Natarajan"
    [item] = dataverse.queue_items
    assert (item["queueid"], item["objectid"]) == (queue, incident["incidentid"])


def test_team_owner(bridge_env, dataverse, opencx, monkeypatch):
    team = dataverse.add_team(str(uuid.uuid4()), "Billing team")
    settings_env(monkeypatch, INCIDENT_OWNER_ID=team, INCIDENT_OWNER_TYPE="team")
    assert handle(email_message()) == "created"
    [incident] = dataverse.incidents
    assert (incident["owner_type"], incident["owner_id"]) == ("team", team)


def test_unknown_queue_dead_letters_naming_the_step(bridge_env, dataverse, opencx, monkeypatch):
    settings_env(monkeypatch, INCIDENT_QUEUE_ID=str(uuid.uuid4()))
    assert handle(email_message()) == "dead_lettered"
    [record] = deadletters(bridge_env)
    assert record["lastStatus"] == 404
    assert len(dataverse.incidents) == 1  # made; a replay finishes the queueing


def test_create_missing_contacts_off_dead_letters_naming_it(bridge_env, dataverse, opencx, monkeypatch):
    settings_env(monkeypatch, CREATE_MISSING_CONTACTS="false")
    message = email_message()
    assert handle(message) == "dead_lettered"
    [record] = deadletters(bridge_env)
    assert "CREATE_MISSING_CONTACTS" in (record.get("errorMessage") or "") + record["action"]
    assert "CREATE_MISSING_CONTACTS" in record["action"]
    # No request was made, so the record carries the code and no made-up HTTP status.
    assert record["errorCode"] == "no_customer" and "lastStatus" not in record
    assert record["reason"] == "permanent_error" and record["target"] == "dataverse"
    assert dataverse.incidents == [] and dataverse.contacts == []


def test_incident_retry_asks_opencx_nothing(bridge_env, dataverse, opencx, monkeypatch):
    spy = spy_requeue(monkeypatch)
    dataverse.add_fault(DvFault("status", operation="create_incident", status=503, retry_after=1, times=1))
    assert handle(email_message()) == "transient"
    before = opencx.stats()["requests"]
    assert handle(parse_message(spy.sent[-1].text)) == "created"
    assert opencx.stats()["requests"] == before
    assert len(dataverse.incidents) == 1 and len(dataverse.contacts) == 1


@pytest.mark.parametrize("closed", [False, True])
def test_dedup_window_for_incidents(bridge_env, dataverse, opencx, closed):
    assert handle(email_message("h_a")) == "created"
    if closed:
        dataverse.close("incident", derived_id(EMAIL_SESSION_ID, "h_a"))
    second = email_message("h_b")
    assert handle(second) == ("created" if closed else "duplicate")
    assert len(dataverse.incidents) == (2 if closed else 1)
    if not closed:
        assert status_of(second)["duplicate_of"] == derived_id(EMAIL_SESSION_ID, "h_a")
