"""create_row's 412 handling (docs/contract.md section 5.4) against the Dataverse simulator."""

from __future__ import annotations

import uuid

import pytest

from devtools.dataverse_sim import FaultRule
from shared.dynamics.dataverse import dataverse_client
from shared.dynamics.rows import create_row, get_row, is_open
from shared.platform.failure import FailureKind


def contact_body(contact_id: str) -> dict:
    return {"contactid": contact_id, "lastname": "Reyes"}


def create(contact_id: str):
    return create_row(dataverse_client(), "contacts", "contactid", contact_body(contact_id), "create_contact")


def test_first_create_is_new(dataverse):
    row_id = str(uuid.uuid4())
    created = create(row_id)
    assert created.ok and not created.existed and created.row_id == row_id
    assert dataverse.contact(row_id) is not None


@pytest.mark.parametrize("code", ["", "0x80040237"])
def test_412_confirmed_by_get_is_success_whatever_its_code(dataverse, code):
    dataverse.duplicate_code = code
    row_id = str(uuid.uuid4())
    assert create(row_id).ok
    again = create(row_id)
    assert again.ok and again.existed
    assert dataverse.count_requests("create_contact", 412) == 1
    assert dataverse.count_requests("get_contact", 200) == 1
    assert len(dataverse.contacts) == 1


def test_412_for_an_absent_row_is_transient(dataverse):
    dataverse.add_fault(FaultRule("status", operation="create_contact", status=412, code="", times=1))
    created = create(str(uuid.uuid4()))
    # The real answer stays the 412; the decision is a transient Failure, not a made-up 503.
    assert not created.ok and created.response.status == 412
    assert created.failure is not None and created.failure.kind is FailureKind.TRANSIENT
    assert created.failure.retryable and created.failure.status == 412
    assert dataverse.contacts == []


def test_412_whose_get_fails_returns_the_get_answer(dataverse):
    dataverse.add_fault(FaultRule("status", operation="create_contact", status=412, code="", times=1))
    dataverse.add_fault(FaultRule("status", operation="get_contact", status=403, times=1))
    created = create(str(uuid.uuid4()))
    assert created.response.status == 403
    assert created.failure is not None and created.failure.kind is FailureKind.REFUSED


def test_select_returns_the_ticket_number_in_one_request(dataverse):
    contact = dataverse.add_contact(lastname="Reyes")
    incident = str(uuid.uuid4())
    body = {"incidentid": incident, "title": "t", "customerid_contact@odata.bind": f"/contacts({contact})"}
    created = create_row(
        dataverse_client(),
        "incidents",
        "incidentid",
        body,
        "create_incident",
        select="incidentid,ticketnumber",
    )
    assert (
        created.ok and created.response.body["ticketnumber"] == dataverse.incident(incident)["ticketnumber"]
    )
    again = create_row(
        dataverse_client(),
        "incidents",
        "incidentid",
        body,
        "create_incident",
        select="incidentid,ticketnumber",
    )
    assert again.existed and again.response.body["ticketnumber"] == created.response.body["ticketnumber"]


def test_is_open_reads_statecode(dataverse):
    row_id = dataverse.add_contact(lastname="Reyes")
    assert is_open(get_row(dataverse_client(), "contacts", row_id, "statecode", "get_contact"))
    dataverse.close("contact", row_id)
    assert not is_open(get_row(dataverse_client(), "contacts", row_id, "statecode", "get_contact"))
