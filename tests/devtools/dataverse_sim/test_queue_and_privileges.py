"""AddToQueue (one queue item per record, moved rather than duplicated), WhoAmI and the privilege functions."""

from __future__ import annotations

import uuid

import pytest
import requests
from dvsim_support import ADD_TO_QUEUE, Client, error_of, incident_body

from devtools.dataverse_sim.privileges import (
    APP_USER_ID,
    BRIDGE_PRIVILEGES,
    BUSINESS_UNIT_ID,
    ORGANIZATION_ID,
    privilege_id,
)
from devtools.dataverse_sim.server import FaultRule
from devtools.dataverse_sim.simulator import DataverseSimulator


@pytest.fixture
def incident(client: Client) -> str:
    contact = client.sim.add_contact(email="ana@example.com")
    body = incident_body(contact)
    assert client.post("incidents", body).status_code == 204
    return str(body["incidentid"])


def test_add_to_queue_answers_the_queue_item_id(client: Client, incident: str) -> None:
    queue = client.sim.add_queue(name="Support")
    response = client.add_to_queue(queue, incident)
    assert response.status_code == 200
    payload = response.json()
    assert payload["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.AddToQueueResponse")
    items = client.sim.queue_items
    assert [item["queueitemid"] for item in items] == [payload["QueueItemId"]]
    assert (items[0]["queueid"], items[0]["objectid"], items[0]["objecttypecode"]) == (
        queue,
        incident,
        "incident",
    )
    assert items[0]["statecode"] == 0


def test_add_to_queue_again_keeps_one_item_and_moves_it_between_queues(client: Client, incident: str) -> None:
    first_queue, second_queue = client.sim.add_queue(name="One"), client.sim.add_queue(name="Two")
    item = client.add_to_queue(first_queue, incident).json()["QueueItemId"]
    assert client.add_to_queue(first_queue, incident).json()["QueueItemId"] == item
    assert len(client.sim.queue_items) == 1
    assert client.add_to_queue(second_queue, incident).json()["QueueItemId"] == item
    items = client.sim.queue_items
    assert len(items) == 1 and items[0]["queueid"] == second_queue


def test_a_resolved_incident_leaves_its_queue_and_a_new_add_creates_a_new_item(
    client: Client, incident: str
) -> None:
    queue = client.sim.add_queue()
    item = client.add_to_queue(queue, incident).json()["QueueItemId"]
    client.sim.close("incident", incident)
    assert client.sim.queue_items[0]["statecode"] == 1
    again = client.add_to_queue(queue, incident).json()["QueueItemId"]
    assert again != item
    assert sorted(i["statecode"] for i in client.sim.queue_items) == [0, 1]


def test_add_to_queue_errors(client: Client, incident: str) -> None:
    queue = client.sim.add_queue()
    missing = str(uuid.uuid4())
    response = client.add_to_queue(missing, incident)
    assert error_of(response) == (404, "0x80040217")
    assert response.json()["error"]["message"] == f"queue With Id = {missing} Does Not Exist"
    assert error_of(client.add_to_queue(queue, missing)) == (404, "0x80040217")

    target = {"incidentid": incident, "@odata.type": "Microsoft.Dynamics.CRM.incident"}
    unresolved = client.post(f"queues({queue})/AddToQueue", {"Target": target})
    assert unresolved.status_code == 400
    assert unresolved.json()["error"]["message"] == "Request message has unresolved parameters."
    no_type = client.post(f"queues({queue})/{ADD_TO_QUEUE}", {"Target": {"incidentid": incident}})
    assert error_of(no_type)[0] == 400
    assert "key property" in no_type.json()["error"]["message"]
    assert error_of(client.post(f"queues({queue})/{ADD_TO_QUEUE}", {}))[0] == 400
    assert error_of(client.post(f"queues({queue})/{ADD_TO_QUEUE}", {"Target": target, "Extra": 1}))[0] == 400
    letter = {"activityid": incident, "@odata.type": "Microsoft.Dynamics.CRM.letter"}
    assert error_of(client.post(f"queues({queue})/{ADD_TO_QUEUE}", {"Target": letter}))[0] == 400
    assert client.sim.queue_items == []
    assert {r.operation for r in client.sim.requests if r.method == "POST" and "queues" in r.path} == {
        "add_to_queue"
    }


def test_add_to_queue_survives_a_dropped_answer(client: Client, incident: str) -> None:
    queue = client.sim.add_queue()
    client.sim.add_fault(FaultRule(kind="drop_after_commit", operation="add_to_queue", times=1))
    with pytest.raises(requests.ConnectionError):
        client.add_to_queue(queue, incident)
    assert len(client.sim.queue_items) == 1
    assert (
        client.add_to_queue(queue, incident).json()["QueueItemId"] == client.sim.queue_items[0]["queueitemid"]
    )
    assert len(client.sim.queue_items) == 1


def test_whoami_names_the_application_user(client: Client) -> None:
    for path in ("WhoAmI", "WhoAmI()"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json() == {
            "@odata.context": f"{client.sim.url}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": BUSINESS_UNIT_ID,
            "UserId": APP_USER_ID,
            "OrganizationId": ORGANIZATION_ID,
        }
    assert client.sim.requests[-1].operation == "whoami"


def test_retrieve_user_privileges_lists_what_the_bridge_needs(client: Client) -> None:
    user = client.get("WhoAmI").json()["UserId"]
    for suffix in ("", "()"):
        response = client.get(f"systemusers({user})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges{suffix}")
        assert response.status_code == 200
        payload = response.json()
        assert payload["@odata.context"].endswith("#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse")
        held = {p["PrivilegeName"]: p for p in payload["RolePrivileges"]}
        assert set(held) == set(BRIDGE_PRIVILEGES)
    create_incident = held["prvCreateIncident"]
    assert create_incident == {
        "Depth": "Global",
        "PrivilegeId": privilege_id("prvCreateIncident"),
        "BusinessUnitId": BUSINESS_UNIT_ID,
        "PrivilegeName": "prvCreateIncident",
    }
    for name in (
        "prvAppendToQueue",
        "prvCreatemsdyn_ocliveworkitem",
        "prvCreateContact",
        "prvReadmsdyn_liveworkstream",
    ):
        assert name in held


def test_privilege_by_name_inline_and_aliased_and_after_revoke(client: Client) -> None:
    base = f"systemusers({APP_USER_ID})/Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName"
    inline = client.get(f"{base}(PrivilegeName='prvAppendToQueue')")
    assert inline.status_code == 200
    assert inline.json()["@odata.context"].endswith("RetrieveUserPrivilegeByPrivilegeNameResponse")
    assert [p["PrivilegeName"] for p in inline.json()["RolePrivileges"]] == ["prvAppendToQueue"]
    aliased = client.get(f"{base}(PrivilegeName=@p1)", {"@p1": "'prvCreateIncident'"})
    assert [p["PrivilegeName"] for p in aliased.json()["RolePrivileges"]] == ["prvCreateIncident"]

    client.sim.revoke_privilege("prvAppendToQueue")
    assert client.get(f"{base}(PrivilegeName='prvAppendToQueue')").json()["RolePrivileges"] == []
    client.sim.grant_privilege("prvAppendToQueue", depth="Basic")
    depth = client.get(f"{base}(PrivilegeName='prvAppendToQueue')").json()["RolePrivileges"][0]["Depth"]
    assert depth == "Basic"
    assert error_of(client.get(f"{base}()"))[0] == 400
    assert error_of(client.get(f"{base}(PrivilegeName=@p9)"))[0] == 400


def test_set_privileges_replaces_the_set_and_reset_restores_it(sim: DataverseSimulator) -> None:
    client = Client(sim)
    sim.set_privileges({"prvReadIncident": "Local"})
    url = f"systemusers({APP_USER_ID})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges"
    assert [(p["PrivilegeName"], p["Depth"]) for p in client.get(url).json()["RolePrivileges"]] == [
        ("prvReadIncident", "Local")
    ]
    with pytest.raises(ValueError):
        sim.set_privileges({"prvReadIncident": "Everywhere"})
    with pytest.raises(ValueError):
        sim.set_privileges(["CreateIncident"])
    sim.reset()
    assert len(client.get(url).json()["RolePrivileges"]) == len(BRIDGE_PRIVILEGES)


def test_privileges_of_other_users_and_errors(client: Client) -> None:
    rep = client.sim.add_systemuser(fullname="Sam")
    url = f"systemusers({rep})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges"
    assert client.get(url).json()["RolePrivileges"] == []
    client.sim.set_privileges(["prvReadIncident"], user_id=rep)
    assert [p["PrivilegeName"] for p in client.get(url).json()["RolePrivileges"]] == ["prvReadIncident"]

    ghost = str(uuid.uuid4())
    response = client.get(f"systemusers({ghost})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges")
    assert error_of(response) == (404, "0x80040217")
    assert response.json()["error"]["message"] == f"systemuser With Id = {ghost} Does Not Exist"
    unresolved = client.get(f"systemusers({rep})/RetrieveUserPrivileges")
    assert unresolved.status_code == 400
    assert client.sim.requests[-1].operation == "privileges"
