"""Notes (`annotation`) with files, the upsert's conditional headers, and the organization's attachment
settings, as docs/dataverse-simulator.md describes them."""

from __future__ import annotations

import base64
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from dvsim_support import API, Client, error_of, incident_body

from devtools.dataverse_sim.simulator import DataverseSimulator

BIND = "objectid_incident@odata.bind"


@pytest.fixture
def incident(client: Client) -> str:
    body = incident_body(client.sim.add_contact(email="ana@example.com"))
    assert client.post("incidents", body).status_code == 204
    return str(body["incidentid"])


def note(incident_id: str, data: bytes = b"hello", **overrides: Any) -> dict[str, Any]:
    body = {
        "subject": "Photo", "notetext": "from the chat", "filename": "parcel.png", "mimetype": "image/png",
        "isdocument": True, "documentbody": base64.b64encode(data).decode(), BIND: f"/incidents({incident_id})",
    }  # fmt: skip
    return {**body, **overrides}


def patch(client: Client, note_id: str, body: Any, **headers: str) -> requests.Response:
    url = f"{client.sim.url}{API}annotations({note_id})"
    return client.session.patch(url, json=body, headers=client.headers(**headers), timeout=10)


def test_post_stores_the_note_with_its_computed_columns(client: Client, incident: str) -> None:
    note_id = str(uuid.uuid4())
    assert (
        client.post("annotations", {**note(incident, b"x" * 10), "annotationid": note_id}).status_code == 204
    )
    row = client.get(f"annotations({note_id})").json()
    assert (row["_objectid_value"], row["objecttypecode"], row["filesize"]) == (incident, "incident", 10)
    assert row["filename"] == "parcel.png" and row["isdocument"] is True
    assert client.sim.note(note_id)["object_id"] == incident  # type: ignore[index]


def test_patch_with_if_none_match_creates_once_then_412(client: Client, incident: str) -> None:
    note_id = str(uuid.uuid4())
    first = patch(client, note_id, note(incident), **{"If-None-Match": "*"})
    assert first.status_code == 204 and first.headers["OData-EntityId"].endswith(f"annotations({note_id})")
    again = patch(client, note_id, note(incident, b"other"), **{"If-None-Match": "*"})
    assert error_of(again) == (412, "0x80040237")
    assert [n["filesize"] for n in client.sim.notes] == [5]


def test_patch_with_if_match_only_updates(client: Client, incident: str) -> None:
    note_id = str(uuid.uuid4())
    assert error_of(patch(client, note_id, note(incident), **{"If-Match": "*"})) == (404, "0x80040217")
    assert patch(client, note_id, note(incident)).status_code == 204  # a plain PATCH is an upsert
    assert patch(client, note_id, {"subject": "Renamed"}, **{"If-Match": "*"}).status_code == 204
    (row,) = client.sim.notes
    assert (row["subject"], row["filesize"], row["object_id"]) == ("Renamed", 5, incident)


def test_notes_are_listed_by_incident_with_select(client: Client, incident: str) -> None:
    other = incident_body(client.sim.add_contact(email="bo@example.com"))
    assert client.post("incidents", other).status_code == 204
    for owner in (incident, incident, other["incidentid"]):
        assert patch(client, str(uuid.uuid4()), note(owner)).status_code == 204
    listed = client.get(
        "annotations", {"$filter": f"_objectid_value eq {incident}", "$select": "filename,filesize"}
    )
    assert listed.status_code == 200
    assert listed.json()["@odata.context"].endswith("$metadata#annotations(filename,filesize)")
    assert [sorted(row) for row in listed.json()["value"]] == [
        ["@odata.etag", "annotationid", "filename", "filesize"]
    ] * 2
    quoted = client.get("annotations", {"$filter": f"_objectid_value eq '{incident}'"})
    assert error_of(quoted) == (400, "0x80060888")  # a GUID is not a string literal


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"documentbody": "not base64!"}, 400, "0x80048d19"),
        ({"filename": "f" * 256}, 400, "0x80044331"),
        ({"isdocument": "yes"}, 400, "0x80048d19"),
        (
            {"objectid_contact@odata.bind": "/contacts(00000000-0000-0000-0000-000000000001)"},
            400,
            "0x80060888",
        ),
        ({BIND: "/incidents(00000000-0000-0000-0000-000000000001)"}, 404, "0x80040217"),
        ({"filename": "setup.exe"}, 400, "0x80043e09"),
    ],
)
def test_invalid_notes_are_refused_and_create_nothing(
    client: Client, incident: str, overrides: dict[str, Any], status: int, code: str
) -> None:
    assert error_of(patch(client, str(uuid.uuid4()), note(incident, **overrides))) == (status, code)
    assert client.sim.notes == []


def test_the_org_limit_counts_base64_characters(client: Client, incident: str) -> None:
    client.sim.set_organization(maxuploadfilesize=8)
    assert patch(client, str(uuid.uuid4()), note(incident, b"123456")).status_code == 204  # 8 characters
    response = patch(client, str(uuid.uuid4()), note(incident, b"1234567"))  # 12 characters
    assert error_of(response) == (400, "0x80044a02")
    assert response.json()["error"]["message"] == "Attachment file size is too big."


def test_a_file_over_the_old_4_mb_transport_limit_reaches_the_org_check(
    client: Client, incident: str
) -> None:
    client.sim.set_organization(maxuploadfilesize=131_072_000)
    big = b"\0" * (5 * 1024 * 1024)
    assert patch(client, str(uuid.uuid4()), note(incident, big)).status_code == 204
    assert client.sim.notes[0]["filesize"] == len(big)


def test_organizations_answers_the_documented_defaults(client: Client) -> None:
    answer = client.get("organizations", {"$select": "maxuploadfilesize,blockedattachments"}).json()
    (row,) = answer["value"]
    assert row["maxuploadfilesize"] == 5_242_880 and "exe" in row["blockedattachments"].split(";")
    assert answer["@odata.context"].endswith("$metadata#organizations(maxuploadfilesize,blockedattachments)")
    assert error_of(client.get("organizations", {"$select": "nosuchcolumn"})) == (400, "0x80060888")


def test_organization_admin_and_reset(sim: DataverseSimulator) -> None:
    admin = f"{sim.url}/_sim/organization"
    changed = requests.post(admin, json={"maxuploadfilesize": 1024, "blockedattachments": ""}, timeout=5)
    assert changed.status_code == 200 and changed.json()["maxuploadfilesize"] == 1024
    assert requests.get(admin, timeout=5).json()["blockedattachments"] == ""
    assert requests.post(admin, json={"maxuploadfilesize": 0}, timeout=5).status_code == 400
    assert requests.post(admin, json={"colour": "red"}, timeout=5).status_code == 400
    with pytest.raises(ValueError, match="maxuploadfilesize"):
        sim.set_organization(maxuploadfilesize=131_072_001)
    sim.reset()
    assert sim.organization["maxuploadfilesize"] == 5_242_880


def test_concurrent_create_only_upserts_write_one_note(client: Client, incident: str) -> None:
    """The existence check and the write are one step: of eight racing deliveries one creates."""
    note_id = str(uuid.uuid4())
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(
                lambda n: (
                    patch(client, note_id, note(incident, bytes([n])), **{"If-None-Match": "*"}).status_code
                ),
                range(8),
            )
        )
    assert sorted(statuses) == [204] + [412] * 7 and len(client.sim.notes) == 1
