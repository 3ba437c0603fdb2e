"""Incidents: create with the customer and owner binds, the generated ticket number, validation,
412 in both forms, GET by id, states, and the committed-then-dropped create."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from dvsim_support import API, CUSTOMER_BIND, OWNER_BIND, Client, error_of, incident_body

from devtools.dataverse_sim.privileges import APP_USER_ID
from devtools.dataverse_sim.server import FaultRule
from devtools.dataverse_sim.simulator import (
    DUPLICATE_CODE_DOCUMENTED,
    DUPLICATE_CODE_EMPTY,
    DataverseSimulator,
)

TICKET = re.compile(r"^CAS-\d{5}-[A-Z0-9]{6}$")


@pytest.fixture
def contact(sim: DataverseSimulator) -> str:
    return sim.add_contact(email="ana@example.com", fullname="Ana Lopez")


def test_create_incident_commits_it_with_a_ticket_number(client: Client, contact: str) -> None:
    first, second = incident_body(contact), incident_body(contact)
    response = client.post("incidents", first)
    assert response.status_code == 204
    assert response.headers["OData-EntityId"] == f"{client.sim.url}{API}incidents({first['incidentid']})"
    assert client.post("incidents", second).status_code == 204

    row = client.sim.incident(first["incidentid"])
    assert row is not None
    assert TICKET.match(row["ticketnumber"])
    assert row["ticketnumber"].startswith("CAS-01000-")
    assert client.sim.incident(second["incidentid"])["ticketnumber"].startswith("CAS-01001-")  # type: ignore[index]
    assert (row["statecode"], row["statuscode"], row["prioritycode"]) == (0, 1, 2)
    assert (row["contact_id"], row["owner_type"], row["owner_id"]) == (contact, "systemuser", APP_USER_ID)
    assert row["description"] == first["description"]


def test_return_representation_answers_201_with_the_ticket_number(client: Client, contact: str) -> None:
    body = incident_body(contact)
    response = client.post(
        "incidents", body, params={"$select": "ticketnumber,title"}, Prefer="return=representation"
    )
    assert response.status_code == 201
    assert response.headers["Preference-Applied"] == "return=representation"
    payload = response.json()
    assert set(payload) == {"@odata.context", "@odata.etag", "incidentid", "ticketnumber", "title"}
    assert TICKET.match(payload["ticketnumber"])
    assert payload["incidentid"] == body["incidentid"]


def test_incident_needs_a_customer_and_the_contact_must_exist(client: Client, contact: str) -> None:
    response = client.post("incidents", incident_body(contact, **{CUSTOMER_BIND: None}))
    assert error_of(response) == (400, "0x80040203")
    assert "parent contact or account" in response.json()["error"]["message"]

    missing = str(uuid.uuid4())
    response = client.post("incidents", incident_body(missing))
    assert error_of(response) == (404, "0x80040217")
    assert response.json()["error"]["message"] == f"contact With Id = {missing} Does Not Exist"
    assert client.sim.incidents == []


def test_owner_may_be_a_systemuser_or_a_team_and_must_exist(client: Client, contact: str) -> None:
    sim = client.sim
    user, team = sim.add_systemuser(fullname="Sam"), sim.add_team(name="Tier 1")
    by_user = incident_body(contact, **{OWNER_BIND: f"/systemusers({user})"})
    by_team = incident_body(contact, **{OWNER_BIND: f"{sim.url}{API}teams({team})"})
    assert client.post("incidents", by_user).status_code == 204
    assert client.post("incidents", by_team).status_code == 204
    assert sim.incident(by_user["incidentid"])["owner_id"] == user  # type: ignore[index]
    assert sim.incident(by_team["incidentid"])["owner_type"] == "team"  # type: ignore[index]

    ghost = str(uuid.uuid4())
    for owner, entity in ((f"/systemusers({ghost})", "systemuser"), (f"/teams({ghost})", "team")):
        response = client.post("incidents", incident_body(contact, **{OWNER_BIND: owner}))
        assert error_of(response) == (404, "0x80040217")
        assert response.json()["error"]["message"] == f"{entity} With Id = {ghost} Does Not Exist"
    assert (
        error_of(client.post("incidents", incident_body(contact, **{OWNER_BIND: f"/queues({ghost})"})))[0]
        == 400
    )
    assert len(sim.incidents) == 2


def test_limits_are_the_stock_columns(client: Client, contact: str) -> None:
    exact = incident_body(contact, title="t" * 200, description="d" * 2000, prioritycode=3)
    assert client.post("incidents", exact).status_code == 204


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"title": None}, "0x80040203"),
        ({"title": "t" * 201}, "0x80044331"),
        ({"description": "d" * 2001}, "0x80044331"),
        ({"description": "\U0001f600" * 1001}, "0x80044331"),
        ({"prioritycode": 4}, "0x80044331"),
        ({"prioritycode": "2"}, "0x80048d19"),
        ({"incidentid": None}, "0x80040203"),
        ({"statecode": 1}, "0x80060888"),
        ({"statuscode": 5}, "0x80044331"),
        ({"new_source": "OpenCX"}, "0x80060888"),
        ({"Title": "caps"}, "0x80060888"),
        ({"caseorigincode": {"nested": 1}}, "0x80048d19"),
        ({"customerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)"}, "0x80060888"),
    ],
)
def test_invalid_incident_bodies_are_400_and_create_nothing(
    client: Client, contact: str, overrides: dict[str, object], code: str
) -> None:
    body = incident_body(contact)
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    assert error_of(client.post("incidents", body)) == (400, code)
    assert client.sim.incidents == []


def test_stock_and_registered_custom_columns_are_accepted(client: Client, contact: str) -> None:
    client.sim.add_incident_columns("new_source", "new_channel")
    body = incident_body(contact, caseorigincode=2, new_source="OpenCX", new_channel="email", statuscode=2)
    assert client.post("incidents", body).status_code == 204
    row = client.sim.incident(body["incidentid"])
    assert (row["caseorigincode"], row["new_source"], row["statuscode"]) == (2, "OpenCX", 2)  # type: ignore[index]
    fetched = client.get(f"incidents({body['incidentid']})", {"$select": "new_source,caseorigincode"}).json()
    assert (fetched["new_source"], fetched["caseorigincode"]) == ("OpenCX", 2)
    with pytest.raises(ValueError):
        client.sim.add_incident_columns("New_Source")


@pytest.mark.parametrize("code", [DUPLICATE_CODE_DOCUMENTED, DUPLICATE_CODE_EMPTY])
def test_duplicate_incident_is_412_with_the_configured_code(client: Client, contact: str, code: str) -> None:
    client.sim.duplicate_code = code
    body = incident_body(contact)
    assert client.post("incidents", body).status_code == 204
    ticket = client.sim.incident(body["incidentid"])["ticketnumber"]  # type: ignore[index]
    response = client.post("incidents", {**body, "title": "retry"})
    assert response.status_code == 412
    assert response.json()["error"] == {
        "code": code,
        "message": "A record with matching key values already exists.",
    }
    assert client.sim.incident(body["incidentid"])["ticketnumber"] == ticket  # type: ignore[index]
    assert len(client.sim.incidents) == 1


def test_duplicate_code_is_a_constructor_setting_that_reset_restores() -> None:
    with DataverseSimulator(duplicate_code=DUPLICATE_CODE_EMPTY) as sim:
        sim.duplicate_code = DUPLICATE_CODE_DOCUMENTED
        sim.reset()
        assert sim.duplicate_code == DUPLICATE_CODE_EMPTY


def test_dropped_answer_after_commit_then_412_then_get_confirms(client: Client, contact: str) -> None:
    """The issue-12 story: the create committed, its answer was lost, the retry meets a 412 (empty code,
    as in Microsoft's example), and a GET of the id proves the row exists."""
    sim = client.sim
    sim.duplicate_code = DUPLICATE_CODE_EMPTY
    sim.add_fault(FaultRule(kind="drop_after_commit", operation="create_incident", times=1))
    body = incident_body(contact)
    with pytest.raises(requests.ConnectionError):
        client.post("incidents", body)
    record = sim.requests[-1]
    assert (record.operation, record.status, record.fault) == ("create_incident", 204, "drop_after_commit")
    assert error_of(client.post("incidents", body)) == (412, "")
    response = client.get(f"incidents({body['incidentid']})", {"$select": "ticketnumber"})
    assert response.status_code == 200
    assert TICKET.match(response.json()["ticketnumber"])
    assert len(sim.incidents) == 1


def test_get_incident_by_id_states_and_404(client: Client, contact: str) -> None:
    body = incident_body(contact)
    client.post("incidents", body)
    incident_id = body["incidentid"]
    fetched = client.get(f"incidents({incident_id})").json()
    assert fetched["@odata.context"].endswith("/$entity")
    assert (fetched["statecode"], fetched["statuscode"]) == (0, 1)
    assert fetched["_customerid_value"] == contact
    assert fetched["_ownerid_value"] == APP_USER_ID
    assert "contact_id" not in fetched and "owner_type" not in fetched

    client.sim.close("incident", incident_id)
    assert (client.get(f"incidents({incident_id})").json()["statecode"], 1) == (1, 1)
    client.sim.set_state("incident", incident_id, 2, 2000)
    closed = client.get(f"incidents({incident_id})", {"$select": "statecode,statuscode"}).json()
    assert (closed["statecode"], closed["statuscode"]) == (2, 2000)
    with pytest.raises(ValueError):
        client.sim.set_state("incident", incident_id, 1, 6)  # Cancelled belongs to state 2
    with pytest.raises(KeyError):
        client.sim.set_state("incident", str(uuid.uuid4()), 1)

    missing = str(uuid.uuid4())
    response = client.get(f"incidents({missing})")
    assert error_of(response) == (404, "0x80040217")
    assert response.json()["error"]["message"] == f"incident With Id = {missing} Does Not Exist"
