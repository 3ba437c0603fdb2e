"""Contacts: statecode in $filter, POST with a client-supplied id, GET by id, and the crowd scenario."""

from __future__ import annotations

import uuid

import pytest
from dvsim_support import API, Client, contact_body, error_of

from devtools.dataverse_sim.demo import seed_crowd
from devtools.dataverse_sim.simulator import (
    DUPLICATE_CODE_DOCUMENTED,
    DUPLICATE_CODE_EMPTY,
    DataverseSimulator,
)

ACTIVE_OR = "statecode eq 0 and (emailaddress1 eq '{e}' or mobilephone eq '{p}' or telephone1 eq '{p}')"


def ids(response: object) -> list[str]:
    return [row["contactid"] for row in response.json()["value"]]  # type: ignore[attr-defined]


def test_statecode_filter_keeps_only_active_contacts(client: Client) -> None:
    sim = client.sim
    active = sim.add_contact(email="ana@example.com")
    inactive = sim.add_contact(email="ana@example.com", statecode=1)
    by_phone_inactive = sim.add_contact(mobilephone="+14155550100", statecode=1)

    everyone = client.contacts("emailaddress1 eq 'ana@example.com' or mobilephone eq '+14155550100'")
    only_active = client.contacts(ACTIVE_OR.format(e="ana@example.com", p="+14155550100"))

    assert sorted(ids(everyone)) == sorted([active, inactive, by_phone_inactive])
    assert ids(only_active) == [active]
    assert ids(client.contacts("statecode eq 1")) == [inactive, by_phone_inactive]


def test_and_binds_tighter_than_or(client: Client) -> None:
    sim = client.sim
    inactive_email = sim.add_contact(email="x@example.com", statecode=1)
    inactive_phone = sim.add_contact(mobilephone="+1999", statecode=1)
    # statecode eq 0 and email  OR  phone  ->  the inactive phone contact matches through the `or`
    response = client.contacts(
        "statecode eq 0 and emailaddress1 eq 'x@example.com' or mobilephone eq '+1999'"
    )
    assert ids(response) == [inactive_phone]
    assert inactive_email not in ids(response)


def test_select_returns_new_columns_and_always_the_key(client: Client) -> None:
    client.sim.add_contact(firstname="Ana", lastname="Lopez", email="ana@example.com", statecode=1)
    row = client.contacts(
        "emailaddress1 eq 'ana@example.com'", select="fullname,statecode,statuscode"
    ).json()["value"][0]
    assert row["fullname"] == "Ana Lopez"
    assert (row["statecode"], row["statuscode"]) == (1, 2)
    assert "contactid" in row and "emailaddress1" not in row


def test_post_contact_creates_it_active_with_the_client_id(client: Client) -> None:
    body = contact_body()
    response = client.post("contacts", body)
    assert response.status_code == 204
    assert response.headers["OData-EntityId"] == f"{client.sim.url}{API}contacts({body['contactid']})"
    row = client.sim.contact(body["contactid"])
    assert row is not None
    assert (row["fullname"], row["statecode"], row["statuscode"]) == ("Ana Lopez", 0, 1)
    assert row["mobilephone"] == "+14155550100"
    assert ids(client.contacts(ACTIVE_OR.format(e="ana.lopez@example.com", p="none"))) == [body["contactid"]]


@pytest.mark.parametrize("code", [DUPLICATE_CODE_DOCUMENTED, DUPLICATE_CODE_EMPTY])
def test_post_contact_twice_is_412_with_the_configured_code(client: Client, code: str) -> None:
    client.sim.duplicate_code = code
    body = contact_body()
    assert client.post("contacts", body).status_code == 204
    response = client.post("contacts", {**body, "lastname": "Changed"})
    assert error_of(response) == (412, code)
    assert response.json()["error"]["message"] == "A record with matching key values already exists."
    assert client.sim.contact(body["contactid"])["lastname"] == "Lopez"  # type: ignore[index]
    assert len(client.sim.contacts) == 1


def test_seeded_contact_id_also_answers_412(client: Client) -> None:
    existing = client.sim.add_contact(email="seeded@example.com")
    assert error_of(client.post("contacts", contact_body(contactid=existing)))[0] == 412


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"contactid": None}, "0x80040203"),
        ({"contactid": "nope"}, "0x80048d19"),
        ({"lastname": "l" * 51}, "0x80044331"),
        ({"emailaddress1": "e" * 101}, "0x80044331"),
        ({"description": "d" * 2001}, "0x80044331"),
        ({"mobilephone": 4155550100}, "0x80048d19"),
        ({"telephone2": "+1"}, "0x80060888"),
        ({"statecode": 1}, "0x80060888"),
    ],
)
def test_invalid_contact_bodies_are_400_and_create_nothing(
    client: Client, overrides: dict[str, object], code: str
) -> None:
    body = contact_body()
    for key, value in overrides.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    assert error_of(client.post("contacts", body)) == (400, code)
    assert client.sim.contacts == []


def test_get_contact_by_id_with_select_and_404_when_absent(client: Client) -> None:
    contact = client.sim.add_contact(email="ana@example.com", fullname="Ana")
    response = client.get(f"contacts({contact.upper()})", {"$select": "emailaddress1,statecode"})
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#contacts(emailaddress1,statecode)/$entity")
    assert (body["contactid"], body["emailaddress1"], body["statecode"]) == (contact, "ana@example.com", 0)
    assert "fullname" not in body

    missing = str(uuid.uuid4())
    response = client.get(f"contacts({missing})")
    assert error_of(response) == (404, "0x80040217")
    assert response.json()["error"]["message"] == f"contact With Id = {missing} Does Not Exist"
    assert error_of(client.get("contacts(42)"))[0] == 400
    assert error_of(client.get(f"contacts({contact})", {"$select": "nosuch"}))[0] == 400


def test_closing_a_contact_makes_it_inactive(client: Client) -> None:
    contact = client.sim.add_contact(email="ana@example.com")
    client.sim.close("contact", contact)
    assert client.get(f"contacts({contact})").json()["statecode"] == 1
    assert ids(client.contacts(ACTIVE_OR.format(e="ana@example.com", p="none"))) == []


def test_crowd_hides_the_email_match_from_a_combined_top_10_query(client: Client) -> None:
    crowd = seed_crowd(client.sim, phone="+14155550199", email="crowd@example.com", size=12)
    combined = client.contacts(ACTIVE_OR.format(e="crowd@example.com", p="+14155550199"), top="10")
    email_only = client.contacts("statecode eq 0 and emailaddress1 eq 'crowd@example.com'", top="10")

    assert len(ids(combined)) == 10
    assert crowd["email_match"] not in ids(combined)
    assert set(ids(combined)) <= set(crowd["phone_only"])  # type: ignore[arg-type]
    assert ids(email_only) == [crowd["email_match"]]
    assert len(crowd["phone_only"]) == 11  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 10"):
        seed_crowd(client.sim, size=9)


def test_contact_lookup_state_is_shared_with_the_python_api(sim: DataverseSimulator) -> None:
    contact = sim.add_contact(email="a@example.com", statecode=1)
    assert sim.contact(contact)["statecode"] == 1  # type: ignore[index]
    with pytest.raises(ValueError, match="statecode"):
        sim.add_contact(email="b@example.com", statecode=2)
