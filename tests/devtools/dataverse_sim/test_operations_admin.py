"""Every operation is recorded and faultable by name; work items read back by id; the admin API mirrors the
Python API; the demo seed carries what the incident path and the per-channel workstreams need."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from dvsim_support import ADD_TO_QUEUE, API, Client, contact_body, error_of, incident_body

from devtools.dataverse_sim.demo import (
    DEMO_INACTIVE_EMAIL,
    DEMO_OWNER_TEAM_ID,
    DEMO_OWNER_USER_ID,
    DEMO_QUEUE_ID,
    DEMO_WORKSTREAMS,
    seed_demo,
)
from devtools.dataverse_sim.privileges import APP_USER_ID, BRIDGE_PRIVILEGES
from devtools.dataverse_sim.server import OPERATIONS, FaultRule
from devtools.dataverse_sim.simulator import DataverseSimulator

WORKSTREAM_BIND = "msdyn_liveworkstreamid_msdyn_ocliveworkitem@odata.bind"


def work_item_body(workstream: str) -> dict[str, Any]:
    activityid = str(uuid.uuid4())
    return {
        "activityid": activityid,
        "msdyn_ocliveworkitemid": activityid,
        "subject": "Move delivery to Friday",
        "msdyn_channel": "192340000",
        WORKSTREAM_BIND: f"/msdyn_liveworkstreams({workstream})",
    }


def calls(client: Client) -> dict[str, Callable[[], requests.Response]]:
    """One request per Dataverse operation, against rows that exist."""
    sim = client.sim
    contact = sim.add_contact(email="ana@example.com")
    workstream = sim.add_workstream()
    queue = sim.add_queue()
    incident = incident_body(contact)
    item = work_item_body(workstream)
    assert client.post("incidents", incident).status_code == 204
    assert client.post("msdyn_ocliveworkitems", item).status_code == 204
    target = {"incidentid": incident["incidentid"], "@odata.type": "Microsoft.Dynamics.CRM.incident"}
    privileges = f"systemusers({APP_USER_ID})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges"
    sim.availability.configure({"enabled": True})
    note = {"subject": "photo", "filename": "a.png", "mimetype": "image/png", "documentbody": "aGk=",
            "isdocument": True, "objectid_incident@odata.bind": f"/incidents({incident['incidentid']})"}  # fmt: skip
    note_id = str(uuid.uuid4())
    assert client.post("annotations", {**note, "annotationid": note_id}).status_code == 204
    return {
        "create_note": lambda: client.post("annotations", {**note, "annotationid": str(uuid.uuid4())}),
        "get_note": lambda: client.get(f"annotations({note_id})"),
        "list_notes": lambda: client.get(
            "annotations", {"$filter": f"_objectid_value eq {incident['incidentid']}"}
        ),
        "organization_get": lambda: client.get("organizations", {"$select": "maxuploadfilesize"}),
        "contact_lookup": lambda: client.contacts("statecode eq 0"),
        "workstream_get": lambda: client.get(f"msdyn_liveworkstreams({workstream})"),
        "create_work_item": lambda: client.post("msdyn_ocliveworkitems", work_item_body(workstream)),
        "create_incident": lambda: client.post("incidents", incident_body(contact)),
        "create_contact": lambda: client.post("contacts", contact_body()),
        "get_work_item": lambda: client.get(f"msdyn_ocliveworkitems({item['activityid']})"),
        "get_incident": lambda: client.get(f"incidents({incident['incidentid']})"),
        "get_contact": lambda: client.get(f"contacts({contact})"),
        "add_to_queue": lambda: client.post(f"queues({queue})/{ADD_TO_QUEUE}", {"Target": target}),
        "whoami": lambda: client.get("WhoAmI"),
        "privileges": lambda: client.get(privileges),
        "list_work_items": lambda: client.get(
            "msdyn_ocliveworkitems", {"$filter": "startswith(subject,'Move')", "$select": "activityid"}
        ),
        "update_work_item": lambda: client.session.patch(
            f"{sim.url}{API}msdyn_ocliveworkitems({item['activityid']})",
            json={"statecode": 0, "statuscode": 1},
            headers=client.headers(),
            timeout=10,
        ),
        "delete_work_item": lambda: _delete_new_item(client, workstream),
        "availability_before": lambda: client.post(
            "CCaaS_GetRepresentativeAvailabilityBeforeConversation",
            {"ApiVersion": "1.0", "LiveWorkStreamId": workstream},
        ),
        "availability_for": lambda: client.post(
            "CCaaS_GetRepresentativeAvailabilityForConversation",
            {"ApiVersion": "1.0", "ConversationId": item["activityid"]},
        ),
    }


def _delete_new_item(client: Client, workstream: str) -> requests.Response:
    """DELETE of a work item created for it, so the call can be made again and again."""
    body = work_item_body(workstream)
    assert client.post("msdyn_ocliveworkitems", body).status_code == 204
    url = f"{client.sim.url}{API}msdyn_ocliveworkitems({body['activityid']})"
    return client.session.delete(url, headers=client.headers(), timeout=10)


def test_every_operation_is_listed_recorded_and_faultable(client: Client) -> None:
    requests_by_operation = calls(client)
    assert set(requests_by_operation) | {"token", "other"} == set(OPERATIONS)
    sim = client.sim
    for operation, call in requests_by_operation.items():
        before = sim.count_requests(operation)
        assert call().status_code in (200, 204), operation
        sim.add_fault(FaultRule(kind="status", status=503, operation=operation, times=1))
        response = call()
        assert error_of(response) == (503, "0x80040216") or response.status_code == 503, operation
        assert sim.requests[-1].operation == operation
        assert sim.requests[-1].fault == "status"
        assert sim.count_requests(operation) == before + 2
        assert sim.count_requests(operation, status=503) == 1
    stats = sim.stats()
    assert stats["operations"]["create_incident"] == {"204": 2, "503": 1}
    assert stats["operations"]["add_to_queue"] == {"200": 1, "503": 1}
    assert (stats["incidents"], stats["queue_items"]) == (2, 1)


@pytest.mark.parametrize("operation", ["create_contact", "create_incident", "create_work_item"])
def test_drop_before_loses_nothing_but_the_request(client: Client, operation: str) -> None:
    call = calls(client)[operation]
    counts_before = client.sim.stats()
    client.sim.add_fault(FaultRule(kind="drop_before", operation=operation, times=1))
    with pytest.raises(requests.ConnectionError):
        call()
    after = client.sim.stats()
    assert {k: after[k] for k in ("incidents", "contacts", "work_items")} == {
        k: counts_before[k] for k in ("incidents", "contacts", "work_items")
    }
    assert client.sim.requests[-1].status == 0


def test_committed_then_dropped_contact_create_is_found_by_get(client: Client) -> None:
    body = contact_body()
    client.sim.add_fault(FaultRule(kind="drop_after_commit", operation="create_contact", times=1))
    with pytest.raises(requests.ConnectionError):
        client.post("contacts", body)
    assert error_of(client.post("contacts", body))[0] == 412
    assert client.get(f"contacts({body['contactid']})").status_code == 200


def test_work_item_reads_back_by_id_and_closes(client: Client) -> None:
    workstream = client.sim.add_workstream()
    body = work_item_body(workstream)
    client.post("msdyn_ocliveworkitems", body)
    fetched = client.get(
        f"msdyn_ocliveworkitems({body['activityid']})", {"$select": "subject,statecode"}
    ).json()
    assert (fetched["activityid"], fetched["subject"], fetched["statecode"]) == (
        body["activityid"],
        body["subject"],
        0,
    )
    assert fetched["@odata.context"].endswith("$metadata#msdyn_ocliveworkitems(subject,statecode)/$entity")
    client.sim.close("msdyn_ocliveworkitem", body["activityid"])
    full = client.get(f"msdyn_ocliveworkitems({body['activityid']})").json()
    assert (full["statecode"], full["statuscode"]) == (1, 4)
    assert full["_msdyn_liveworkstreamid_value"] == workstream
    missing = str(uuid.uuid4())
    response = client.get(f"msdyn_ocliveworkitems({missing})")
    assert response.json()["error"]["message"] == f"msdyn_ocliveworkitem With Id = {missing} Does Not Exist"


def test_seed_demo_adds_channels_queue_owners_and_inactive_contacts(client: Client) -> None:
    ids = seed_demo(client.sim)
    assert seed_demo(client.sim) == ids  # idempotent
    for channel, workstream in DEMO_WORKSTREAMS.items():
        assert ids[f"workstream_{channel}"] == workstream
        assert client.get(f"msdyn_liveworkstreams({workstream})").status_code == 200
    assert len(set(DEMO_WORKSTREAMS.values())) == 3
    assert (ids["queue"], ids["owner_user"], ids["owner_team"]) == (
        DEMO_QUEUE_ID,
        DEMO_OWNER_USER_ID,
        DEMO_OWNER_TEAM_ID,
    )
    inactive = client.contacts(f"emailaddress1 eq '{DEMO_INACTIVE_EMAIL}'").json()["value"]
    active = client.contacts(f"statecode eq 0 and emailaddress1 eq '{DEMO_INACTIVE_EMAIL}'").json()["value"]
    assert [row["contactid"] for row in inactive] == [ids["former"]] and active == []

    contact = client.contacts("emailaddress1 eq 'priya.n@example.com'").json()["value"][0]["contactid"]
    body = incident_body(contact, **{"ownerid@odata.bind": f"/teams({DEMO_OWNER_TEAM_ID})"})
    assert client.post("incidents", body).status_code == 204
    assert client.add_to_queue(DEMO_QUEUE_ID, body["incidentid"]).status_code == 200


def admin(
    sim: DataverseSimulator, method: str, name: str, body: dict[str, Any] | None = None
) -> requests.Response:
    return requests.request(method, f"{sim.url}/_sim/{name}", json=body, timeout=5)


def test_admin_api_mirrors_the_python_api(sim: DataverseSimulator) -> None:
    client = Client(sim)
    seeded = admin(sim, "POST", "seed-demo").json()
    assert seeded["queue"] == DEMO_QUEUE_ID
    queue = admin(sim, "POST", "queues", {"name": "Escalations"}).json()["queueid"]
    user = admin(sim, "POST", "systemusers", {"fullname": "Sam"}).json()["systemuserid"]
    team = admin(sim, "POST", "teams", {"name": "Tier 2"}).json()["teamid"]
    contact = admin(sim, "POST", "contacts", {"email": "z@example.com", "statecode": 1}).json()["contactid"]
    assert sim.contact(contact)["statecode"] == 1  # type: ignore[index]
    assert admin(sim, "POST", "incident-columns", {"columns": ["new_source"]}).status_code == 204
    assert "new_source" in sim.incident_columns

    body = incident_body(contact, new_source="OpenCX", **{"ownerid@odata.bind": f"/systemusers({user})"})
    assert client.post("incidents", body).status_code == 204
    assert client.add_to_queue(queue, body["incidentid"]).status_code == 200
    assert [i["incidentid"] for i in admin(sim, "GET", "incidents").json()["value"]] == [body["incidentid"]]
    assert [q["queueid"] for q in admin(sim, "GET", "queueitems").json()["value"]] == [queue]
    assert contact in [c["contactid"] for c in admin(sim, "GET", "contacts").json()["value"]]

    closed = admin(sim, "POST", "close", {"entity": "incident", "id": body["incidentid"]})
    assert (closed.status_code, closed.json()["statecode"], closed.json()["statuscode"]) == (200, 1, 5)
    state = admin(sim, "POST", "state", {"entity": "incident", "id": body["incidentid"], "statecode": 0})
    assert state.json()["statecode"] == 0
    assert (
        admin(
            sim, "POST", "state", {"entity": "incident", "id": str(uuid.uuid4()), "statecode": 1}
        ).status_code
        == 404
    )
    assert (
        admin(sim, "POST", "state", {"entity": "account", "id": contact, "statecode": 1}).status_code == 400
    )

    config = admin(sim, "POST", "config", {"duplicate_code": ""}).json()
    assert config["duplicate_code"] == ""
    assert error_of(client.post("incidents", body)) == (412, "")
    assert admin(sim, "POST", "config", {"duplicate_code": 5}).status_code == 400

    assert set(admin(sim, "GET", "privileges").json()["privileges"]) == set(BRIDGE_PRIVILEGES)
    replaced = admin(sim, "POST", "privileges", {"privileges": {"prvReadIncident": "Deep"}}).json()
    assert replaced["privileges"] == {"prvReadIncident": "Deep"}
    assert admin(sim, "POST", "grant-privilege", {"name": "prvAppendToQueue"}).status_code == 204
    assert admin(sim, "POST", "revoke-privilege", {"name": "prvReadIncident"}).status_code == 204
    assert sim.privileges_of(APP_USER_ID) == {"prvAppendToQueue": "Global"}
    assert admin(sim, "POST", "privileges", {"privileges": {"prvX": "Nowhere"}}).status_code == 400

    crowd = admin(
        sim, "POST", "crowd", {"phone": "+15550001111", "email": "c@example.com", "size": 10}
    ).json()
    assert len(crowd["phone_only"]) == 9
    assert admin(sim, "POST", "crowd", {"size": 3}).status_code == 400
    assert admin(sim, "POST", "teams", {"nope": 1}).status_code == 400
    assert team

    assert admin(sim, "POST", "reset").status_code == 204
    assert sim.incidents == [] and sim.queue_items == [] and sim.duplicate_code == "0x80040237"
    assert set(sim.privileges_of(APP_USER_ID)) == set(BRIDGE_PRIVILEGES)
    assert sim.errors == []


def test_unknown_paths_and_methods_stay_odata_errors(client: Client) -> None:
    assert error_of(client.get("accounts")) == (404, "0x8006088a")
    assert client.get(f"queues({uuid.uuid4()})").status_code == 405
    response = client.session.delete(f"{client.sim.url}{API}incidents", headers=client.headers(), timeout=5)
    assert response.status_code == 405
    assert client.get(f"incidents({uuid.uuid4()})/Microsoft.Dynamics.CRM.Nothing").status_code == 404


def test_cli_flag_selects_the_empty_duplicate_code() -> None:
    from devtools.dataverse_sim.__main__ import parse_args

    assert parse_args(["--empty-duplicate-code"]).empty_duplicate_code is True
    assert parse_args([]).empty_duplicate_code is False
