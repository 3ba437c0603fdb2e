"""The Dataverse simulator over real HTTP: token flow through azure-identity, every operation, every fault.

The bridge's client and worker are tested against this simulator, so it has to be right: each test here
pins a behaviour those tests rely on (status, error code, what was committed).
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import dvsim_support
import pytest
import requests
from dvsim_support import error_of, fetch_token

from devtools.dataverse_sim import DEMO_WORKSTREAM_ID, DataverseSimulator, FaultRule, seed_demo
from devtools.dataverse_sim.odata import ODataError, comparisons, parse_filter
from devtools.dataverse_sim.schema import CONTACT

ROOT = Path(__file__).resolve().parents[3]
API = dvsim_support.API
WORKSTREAM_BIND = "msdyn_liveworkstreamid_msdyn_ocliveworkitem@odata.bind"
CONTACT_BIND = "msdyn_customer_msdyn_ocliveworkitem_contact@odata.bind"
CONTEXT_ITEMS = "msdyn_msdyn_ocliveworkitem_msdyn_ocliveworkitemcontextitem_ocliveworkitemid"
AZURE_ENV = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_TOKEN_CREDENTIALS",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
)


class Client(dvsim_support.Client):
    """The shared test client, with the work-item create and a contact lookup of $top=2."""

    def create(self, body: Any, timeout: float = 10.0, **headers: str) -> requests.Response:
        return self.session.post(
            f"{self.sim.url}{API}msdyn_ocliveworkitems",
            json=body,
            headers=self.headers(**headers),
            timeout=timeout,
        )

    def contacts(self, flt: str, top: str = "2", select: str = "contactid") -> requests.Response:
        return super().contacts(flt, top, select)


@pytest.fixture
def client(sim: DataverseSimulator) -> Client:
    return Client(sim)


@pytest.fixture
def workstream(sim: DataverseSimulator) -> str:
    return sim.add_workstream(name="SMS workstream")


@pytest.fixture
def identity_env(sim: DataverseSimulator, monkeypatch: pytest.MonkeyPatch) -> DataverseSimulator:
    """Only the simulator's managed identity is configured, whatever the developer's shell holds."""
    for name in AZURE_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    return sim


def work_item_body(workstream: str, **overrides: Any) -> dict[str, Any]:
    activityid = str(uuid.uuid4())
    body: dict[str, Any] = {
        "activityid": activityid,
        "msdyn_ocliveworkitemid": activityid,
        "subject": "Customer wants to move delivery of order 1182 to Friday.",
        "description": "Summary, customer details and the transcript tail.",
        "msdyn_channel": "192340000",
        WORKSTREAM_BIND: f"/msdyn_liveworkstreams({workstream})",
        CONTEXT_ITEMS: [
            {"msdyn_name": "sessionId", "msdyn_value": "ses_7Q2", "msdyn_isdisplayable": True},
            {"msdyn_name": "channel", "msdyn_value": "sms", "msdyn_isdisplayable": True},
        ],
    }
    body.update(overrides)
    return body


# ---------------------------------------------------------------- token endpoint and bearer checks


def test_managed_identity_credential_gets_a_token_that_dataverse_accepts(
    identity_env: DataverseSimulator, workstream: str
) -> None:
    from azure.identity import ManagedIdentityCredential

    sim = identity_env
    assert sim.env() == {
        "DATAVERSE_URL": sim.url,
        "IDENTITY_ENDPOINT": f"{sim.url}/msi/token",
        "IDENTITY_HEADER": sim.identity_header,
    }
    token = ManagedIdentityCredential().get_token(f"{sim.url}/.default")

    assert token.expires_on == pytest.approx(time.time() + sim.token_lifetime, abs=5)
    assert sim.token_requests == 1
    assert sim.token_queries[0]["resource"] == sim.url
    response = requests.get(
        f"{sim.url}{API}msdyn_liveworkstreams({workstream})",
        headers={"Authorization": f"Bearer {token.token}"},
        timeout=5,
    )
    assert response.status_code == 200


def test_default_azure_credential_reaches_the_simulator_through_managed_identity(
    identity_env: DataverseSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DefaultAzureCredential tries EnvironmentCredential and WorkloadIdentityCredential first; both are
    unavailable without their variables, so ManagedIdentityCredential (App Service flavour) answers.
    AZURE_CLIENT_ID alone selects a user-assigned identity, as docs/deploy.md configures in Azure."""
    from azure.identity import DefaultAzureCredential

    sim = identity_env
    monkeypatch.setenv("AZURE_CLIENT_ID", "22222222-2222-2222-2222-222222222222")
    token = DefaultAzureCredential().get_token(f"{sim.url}/.default")

    assert sim.token_requests == 1
    assert sim.token_queries[0]["client_id"] == "22222222-2222-2222-2222-222222222222"
    sim.check_bearer(f"Bearer {token.token}")  # raises if the simulator did not issue it


def test_credential_cache_serves_a_revoked_token_until_claims_force_a_new_one(
    identity_env: DataverseSimulator, workstream: str
) -> None:
    """What the bridge's client must know: after a 401, a plain get_token returns the cached token again."""
    from azure.identity import ManagedIdentityCredential

    sim = identity_env
    credential = ManagedIdentityCredential()
    scope = f"{sim.url}/.default"
    first = credential.get_token(scope).token
    sim.expire_tokens()

    url = f"{sim.url}{API}msdyn_liveworkstreams({workstream})"
    assert requests.get(url, headers={"Authorization": f"Bearer {first}"}, timeout=5).status_code == 401
    assert credential.get_token(scope).token == first
    fresh = credential.get_token(scope, claims='{"access_token":{"nbf":{"essential":true}}}').token
    assert fresh != first
    assert requests.get(url, headers={"Authorization": f"Bearer {fresh}"}, timeout=5).status_code == 200


def test_short_lived_tokens_are_never_cached_by_msal(identity_env: DataverseSimulator) -> None:
    """MSAL treats a token with under 5 minutes left as expired, so each get_token asks the endpoint."""
    from azure.identity import ManagedIdentityCredential

    sim = identity_env
    sim.token_lifetime = 60
    credential = ManagedIdentityCredential()
    credential.get_token(f"{sim.url}/.default")
    credential.get_token(f"{sim.url}/.default")
    assert sim.token_requests == 2


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        ({}, {"api-version": "2019-08-01", "resource": "{url}"}, 400),
        ({"X-IDENTITY-HEADER": "wrong"}, {"api-version": "2019-08-01", "resource": "{url}"}, 401),
        ({"X-IDENTITY-HEADER": "{secret}"}, {"api-version": "2017-09-01", "resource": "{url}"}, 400),
        ({"X-IDENTITY-HEADER": "{secret}"}, {"api-version": "2019-08-01", "resource": "https://x.crm"}, 400),
        ({"X-IDENTITY-HEADER": "{secret}"}, {"api-version": "2019-08-01"}, 400),
        ({"X-IDENTITY-HEADER": "{secret}"}, {"api-version": "2019-08-01", "resource": "{url}/"}, 200),
    ],
)
def test_token_endpoint_checks_secret_api_version_and_resource(
    sim: DataverseSimulator, headers: dict[str, str], params: dict[str, str], status: int
) -> None:
    def fill(value: str) -> str:
        return value.format(url=sim.url, secret=sim.identity_header)

    response = requests.get(
        sim.identity_endpoint,
        params={k: fill(v) for k, v in params.items()},
        headers={k: fill(v) for k, v in headers.items()},
        timeout=5,
    )
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert int(body["expires_on"]) == pytest.approx(time.time() + 3600, abs=5)
    else:
        assert "access_token" not in response.json()
        assert response.json()["statusCode"] == status


def test_tokens_really_expire_after_their_lifetime(sim: DataverseSimulator, workstream: str) -> None:
    sim.token_lifetime = 0.5
    client = Client(sim)
    assert client.get(f"msdyn_liveworkstreams({workstream})").status_code == 200
    time.sleep(0.6)
    response = client.get(f"msdyn_liveworkstreams({workstream})")
    assert error_of(response)[0] == 401
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-issued", "Basic abc"])
def test_missing_or_unknown_bearer_is_401_with_a_challenge(
    sim: DataverseSimulator, workstream: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(f"{sim.url}{API}msdyn_liveworkstreams({workstream})", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=https://login.")
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"].startswith("0x")


def test_expire_tokens_rejects_every_token_issued_so_far(client: Client, workstream: str) -> None:
    client.sim.expire_tokens()
    assert client.get(f"msdyn_liveworkstreams({workstream})").status_code == 401
    client.token = fetch_token(client.sim)
    assert client.get(f"msdyn_liveworkstreams({workstream})").status_code == 200


# ---------------------------------------------------------------- contact lookup


def test_email_lookup_is_case_insensitive(client: Client) -> None:
    wanted = client.sim.add_contact(email="Priya.N@Example.com", fullname="Priya N")
    client.sim.add_contact(email="someone@example.com")

    response = client.contacts("emailaddress1 eq 'priya.n@example.com'")

    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#contacts(contactid)")
    assert [row["contactid"] for row in body["value"]] == [wanted]
    assert set(body["value"][0]) == {"@odata.etag", "contactid"}


def test_phone_or_filter_matches_either_field_and_top_limits_rows(client: Client) -> None:
    sim = client.sim
    mobile = sim.add_contact(mobilephone="+14155550123")
    landline = sim.add_contact(telephone1="+14155550123")
    shared = sim.add_contact(telephone1="+14155550123")
    sim.add_contact(mobilephone="+14155559999")
    flt = "mobilephone eq '+14155550123' or telephone1 eq '+14155550123' or mobilephone eq '(415) 555-0123'"

    assert len(client.contacts(flt, top="5").json()["value"]) == 3
    rows = client.contacts(flt, top="2").json()["value"]
    assert len(rows) == 2
    assert {row["contactid"] for row in rows} <= {mobile, landline, shared}
    assert client.contacts("mobilephone eq '+10000000000'").json()["value"] == []


def test_quotes_are_unescaped_and_values_url_decoded(client: Client) -> None:
    wanted = client.sim.add_contact(email="o'brien+sms@example.com")
    response = client.contacts("emailaddress1 eq 'o''brien+sms@example.com'")
    assert [row["contactid"] for row in response.json()["value"]] == [wanted]


@pytest.mark.parametrize(
    "flt",
    [
        "emailaddress1 ne 'a@example.com'",
        "lastname eq 'Reyes'",
        "statecode eq '0'",
        "emailaddress1 eq 0",
        "statecode gt 0",
        "not (statecode eq 0)",
        "emailaddress1 eq 'unterminated",
        "contains(emailaddress1,'a')",
        "emailaddress1 eq a@example.com",
        "emailaddress1 eq 'a' or",
        "",
    ],
)
def test_unsupported_filter_is_400_0x80060888(client: Client, flt: str) -> None:
    assert error_of(client.contacts(flt)) == (400, "0x80060888")


@pytest.mark.parametrize(
    "params", [{"$top": "two"}, {"$select": "nosuchcolumn"}, {"$orderby": "fullname"}, {"$top": "-1"}]
)
def test_bad_query_options_are_400(client: Client, params: dict[str, str]) -> None:
    assert error_of(client.get("contacts", params))[0] == 400


def test_filter_parser_handles_parentheses_and_escapes() -> None:
    parsed = parse_filter(
        "(mobilephone eq 'a''b') or (telephone1 eq 'c' or emailaddress1 eq '')",
        CONTACT.filters,
        CONTACT.logical,
    )
    assert comparisons(parsed) == [("mobilephone", "a'b"), ("telephone1", "c"), ("emailaddress1", "")]
    with pytest.raises(ODataError):
        parse_filter("(mobilephone eq 'a'", CONTACT.filters, CONTACT.logical)


# ---------------------------------------------------------------- workstream


def test_workstream_get_returns_the_name(client: Client, workstream: str) -> None:
    response = client.get(f"msdyn_liveworkstreams({workstream.upper()})", {"$select": "msdyn_name"})
    assert response.status_code == 200
    assert response.json()["msdyn_name"] == "SMS workstream"
    assert response.json()["msdyn_liveworkstreamid"] == workstream


def test_unknown_workstream_is_404_does_not_exist(client: Client) -> None:
    missing = str(uuid.uuid4())
    response = client.get(f"msdyn_liveworkstreams({missing})", {"$select": "msdyn_name"})
    assert error_of(response) == (404, "0x80040217")
    assert response.json()["error"]["message"] == f"msdyn_liveworkstream With Id = {missing} Does Not Exist"
    assert error_of(client.get("msdyn_liveworkstreams(not-a-guid)"))[0] == 400


# ---------------------------------------------------------------- create


def test_create_commits_the_row_and_answers_204_with_entity_id(client: Client, workstream: str) -> None:
    sim = client.sim
    contact = sim.add_contact(mobilephone="+14155550123")
    body = work_item_body(workstream, **{CONTACT_BIND: f"/contacts({contact})"})

    response = client.create(body)

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["OData-EntityId"] == f"{sim.url}{API}msdyn_ocliveworkitems({body['activityid']})"
    item = sim.work_item(body["activityid"])
    assert item is not None
    assert item["subject"] == body["subject"]
    assert item["msdyn_channel"] == "192340000"
    assert item["workstream_id"] == workstream
    assert item["contact_id"] == contact
    assert [c["msdyn_name"] for c in item["context_items"]] == ["sessionId", "channel"]
    assert item["createdon"].endswith("Z")
    assert sim.work_items == [item]
    assert sim.create_attempts == 1


def test_create_with_return_representation_answers_201(client: Client, workstream: str) -> None:
    body = work_item_body(workstream, description=None)
    response = client.create(body, Prefer="return=representation")
    assert response.status_code == 201
    row = response.json()
    assert row["activityid"] == body["activityid"]
    assert row["_msdyn_liveworkstreamid_value"] == workstream
    assert row["_msdyn_customer_value"] is None


def test_create_accepts_the_limits_exactly(client: Client, workstream: str) -> None:
    body = work_item_body(
        workstream,
        subject="s" * 200,
        description="d" * 2000,
        msdyn_channel="192360000",
        **{
            CONTEXT_ITEMS: [{"msdyn_name": "n" * 100, "msdyn_value": "v" * 512, "msdyn_isdisplayable": False}]
        },
    )
    assert client.create(body).status_code == 204


def _invalid_bodies() -> list[tuple[str, dict[str, Any], str]]:
    """(case, overrides, expected code); "DROP:x" removes property x."""
    item = {"msdyn_name": "sessionId", "msdyn_value": "ses", "msdyn_isdisplayable": True}
    return [
        ("no subject", {"DROP": "subject"}, "0x80040203"),
        ("empty subject", {"subject": "  "}, "0x80040203"),
        ("long subject", {"subject": "s" * 201}, "0x80044331"),
        ("emoji counted as UTF-16", {"subject": "\U0001f600" * 101}, "0x80044331"),
        ("subject not a string", {"subject": 5}, "0x80048d19"),
        ("long description", {"description": "d" * 2001}, "0x80044331"),
        ("channel label", {"msdyn_channel": "sms"}, "0x80044331"),
        ("channel as int", {"msdyn_channel": 192340000}, "0x80044331"),
        ("no channel", {"DROP": "msdyn_channel"}, "0x80040203"),
        ("no activityid", {"DROP": "activityid"}, "0x80040203"),
        ("bad activityid", {"activityid": "123"}, "0x80048d19"),
        ("mismatched live id", {"msdyn_ocliveworkitemid": str(uuid.uuid4())}, "0x80040203"),
        ("unknown property", {"msdyn_priority": 1}, "0x80060888"),
        ("no workstream", {"DROP": WORKSTREAM_BIND}, "0x80040203"),
        ("bad workstream bind", {WORKSTREAM_BIND: "/queues(1)"}, "0x80060888"),
        ("bad contact bind", {CONTACT_BIND: "/contacts(nope)"}, "0x80060888"),
        ("context not a list", {CONTEXT_ITEMS: item}, "0x80048d19"),
        ("context name long", {CONTEXT_ITEMS: [{**item, "msdyn_name": "n" * 101}]}, "0x80044331"),
        ("context name missing", {CONTEXT_ITEMS: [{"msdyn_value": "v"}]}, "0x80040203"),
        ("context value long", {CONTEXT_ITEMS: [{**item, "msdyn_value": "v" * 513}]}, "0x80044331"),
        ("context unknown key", {CONTEXT_ITEMS: [{**item, "msdyn_extra": 1}]}, "0x80060888"),
        ("context displayable", {CONTEXT_ITEMS: [{**item, "msdyn_isdisplayable": "yes"}]}, "0x80048d19"),
    ]


@pytest.mark.parametrize(
    ("case", "overrides", "code"), _invalid_bodies(), ids=[c[0] for c in _invalid_bodies()]
)
def test_each_validation_failure_is_400_and_creates_nothing(
    client: Client, workstream: str, case: str, overrides: dict[str, Any], code: str
) -> None:
    body = work_item_body(workstream)
    if "DROP" in overrides:
        del body[overrides.pop("DROP")]
    body.update(overrides)

    response = client.create(body)

    assert error_of(response) == (400, code), case
    assert response.json()["error"]["message"]
    assert client.sim.work_items == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_payload_is_400(client: Client, raw: bytes) -> None:
    response = client.session.post(
        f"{client.sim.url}{API}msdyn_ocliveworkitems",
        data=raw,
        headers=client.headers(**{"Content-Type": "application/json"}),
        timeout=5,
    )
    assert error_of(response)[0] == 400


def test_non_json_content_type_is_415(client: Client, workstream: str) -> None:
    response = client.session.post(
        f"{client.sim.url}{API}msdyn_ocliveworkitems",
        data=json.dumps(work_item_body(workstream)),
        headers=client.headers(**{"Content-Type": "text/plain"}),
        timeout=5,
    )
    assert response.status_code == 415
    assert client.sim.work_items == []


def test_unknown_workstream_or_contact_is_404_and_creates_nothing(client: Client, workstream: str) -> None:
    missing = str(uuid.uuid4())
    response = client.create(work_item_body(missing))
    assert error_of(response) == (404, "0x80040217")
    assert missing in response.json()["error"]["message"]

    response = client.create(work_item_body(workstream, **{CONTACT_BIND: f"/contacts({missing})"}))
    assert error_of(response) == (404, "0x80040217")
    assert response.json()["error"]["message"] == f"contact With Id = {missing} Does Not Exist"
    assert client.sim.work_items == []


def test_absolute_bind_urls_are_accepted(client: Client, workstream: str) -> None:
    bind = f"{client.sim.url}{API}msdyn_liveworkstreams({workstream})"
    assert client.create(work_item_body(workstream, **{WORKSTREAM_BIND: bind})).status_code == 204


def test_duplicate_activityid_is_412_0x80040237(client: Client, workstream: str) -> None:
    body = work_item_body(workstream)
    assert client.create(body).status_code == 204
    response = client.create({**body, "subject": "a retry with a different summary"})
    assert error_of(response) == (412, "0x80040237")
    assert response.json()["error"]["message"] == "A record with matching key values already exists."
    assert len(client.sim.work_items) == 1
    assert client.sim.work_item(body["activityid"])["subject"] == body["subject"]  # type: ignore[index]


def test_concurrent_creates_of_one_id_commit_exactly_once(sim: DataverseSimulator, workstream: str) -> None:
    body = work_item_body(workstream)
    statuses: list[int] = []

    def post() -> None:
        statuses.append(Client(sim).create(body).status_code)

    threads = [threading.Thread(target=post) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [204] + [412] * 11
    assert len(sim.work_items) == 1


def test_chunked_request_body_is_read(client: Client, workstream: str) -> None:
    payload = json.dumps(work_item_body(workstream)).encode()
    response = client.session.post(
        f"{client.sim.url}{API}msdyn_ocliveworkitems",
        data=iter([payload[:10], payload[10:]]),
        headers=client.headers(**{"Content-Type": "application/json"}),
        timeout=5,
    )
    assert response.status_code == 204
    assert client.get("contacts", {"$filter": "telephone1 eq '1'"}).status_code == 200  # framing intact


# ---------------------------------------------------------------- other paths


def test_other_paths_are_404_or_405_odata_errors(client: Client, sim: DataverseSimulator) -> None:
    assert error_of(client.get("accounts")) == (404, "0x8006088a")
    assert requests.get(f"{sim.url}/nothing", timeout=5).status_code == 404
    response = client.session.delete(f"{sim.url}{API}contacts", headers=client.headers(), timeout=5)
    assert response.status_code == 405
    assert [r.operation for r in sim.requests] == ["other", "other", "other"]


# ---------------------------------------------------------------- faults


def test_429_fault_sends_retry_after_and_the_throttling_code(client: Client, workstream: str) -> None:
    client.sim.add_fault(FaultRule(kind="status", status=429, retry_after=7, times=1))
    response = client.create(work_item_body(workstream))
    assert error_of(response) == (429, "0x80072322")
    assert response.headers["Retry-After"] == "7"
    assert client.sim.work_items == []
    assert client.create(work_item_body(workstream)).status_code == 204


def test_fractional_retry_after_is_kept_for_fast_tests(client: Client, workstream: str) -> None:
    client.sim.add_fault(FaultRule(kind="status", status=503, retry_after=0.25, times=1))
    assert client.create(work_item_body(workstream)).headers["Retry-After"] == "0.25"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 400, 403])
def test_status_faults_answer_odata_errors_without_committing(
    client: Client, workstream: str, status: int
) -> None:
    client.sim.add_fault(FaultRule(kind="status", status=status, operation="create_work_item"))
    response = client.create(work_item_body(workstream))
    assert response.status_code == status
    assert response.json()["error"]["code"].startswith("0x")
    assert "Retry-After" not in response.headers
    assert client.sim.work_items == []
    assert client.contacts("telephone1 eq '1'").status_code == 200  # other operations unaffected


def test_drop_before_is_a_connection_error_and_nothing_is_created(client: Client, workstream: str) -> None:
    client.sim.add_fault(FaultRule(kind="drop_before", operation="create_work_item", times=1))
    body = work_item_body(workstream)
    with pytest.raises(requests.ConnectionError):
        client.create(body)
    assert client.sim.work_items == []
    assert client.sim.create_attempts == 1
    assert client.sim.requests[-1].status == 0
    assert client.create(body).status_code == 204  # the pooled session recovers
    assert client.sim.errors == []


def test_drop_after_commit_loses_the_answer_but_keeps_the_row(client: Client, workstream: str) -> None:
    client.sim.add_fault(FaultRule(kind="drop_after_commit", operation="create_work_item", times=1))
    body = work_item_body(workstream)
    with pytest.raises(requests.ConnectionError):
        client.create(body)
    assert client.sim.work_item(body["activityid"]) is not None
    record = client.sim.requests[-1]
    assert (record.status, record.fault) == (204, "drop_after_commit")
    assert error_of(client.create(body)) == (412, "0x80040237")  # the retry learns it already exists
    assert len(client.sim.work_items) == 1
    assert client.sim.errors == []


def test_slow_fault_times_out_the_client_but_commits(client: Client, workstream: str) -> None:
    client.sim.add_fault(FaultRule(kind="slow", delay=0.6, operation="create_work_item", times=1))
    body = work_item_body(workstream)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        client.create(body, timeout=0.2)
    assert time.monotonic() - started < 0.5
    deadline = time.monotonic() + 3
    while client.sim.work_item(body["activityid"]) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.sim.work_item(body["activityid"]) is not None
    assert client.sim.errors == []  # the client hanging up is not a simulator error


def test_times_limits_how_often_a_rule_fires(client: Client) -> None:
    rule = FaultRule(kind="status", status=500, times=2)
    client.sim.add_fault(rule)
    statuses = [client.contacts("telephone1 eq '1'").status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert rule.fired == 2


def test_every_faults_each_nth_matching_request(client: Client) -> None:
    client.sim.add_fault(FaultRule(kind="status", status=502, every=3))
    statuses = [client.contacts("telephone1 eq '1'").status_code for _ in range(7)]
    assert statuses == [200, 200, 502, 200, 200, 502, 200]


def test_rate_is_seeded_and_roughly_honoured() -> None:
    def run() -> list[int]:
        with DataverseSimulator(seed=42) as sim:
            sim.add_fault(FaultRule(kind="status", status=503, rate=0.3))
            client = Client(sim)
            return [client.contacts("telephone1 eq '1'").status_code for _ in range(150)]

    first, second = run(), run()
    assert first == second
    assert 25 <= first.count(503) <= 65


def test_first_firing_rule_wins_and_operation_filters(client: Client, workstream: str) -> None:
    sim = client.sim
    sim.add_fault(FaultRule(kind="status", status=504, operation="create_work_item", times=1))
    sim.add_fault(FaultRule(kind="status", status=500, times=1))
    sim.add_fault(FaultRule(kind="status", status=429, retry_after=1))

    assert client.contacts("telephone1 eq '1'").status_code == 500
    assert client.create(work_item_body(workstream)).status_code == 504
    assert client.get(f"msdyn_liveworkstreams({workstream})").status_code == 429
    sim.clear_faults()
    assert client.get(f"msdyn_liveworkstreams({workstream})").status_code == 200


def test_rules_without_operation_spare_the_token_endpoint(sim: DataverseSimulator) -> None:
    sim.add_fault(FaultRule(kind="status", status=503))
    fetch_token(sim)  # raises on a 503
    sim.clear_faults()
    sim.add_fault(FaultRule(kind="status", status=503, operation="token", retry_after=2, times=1))
    with pytest.raises(requests.HTTPError) as raised:
        fetch_token(sim)
    assert raised.value.response.headers["Retry-After"] == "2"
    assert raised.value.response.json()["statusCode"] == 503
    fetch_token(sim)


def test_token_drop_is_a_connection_error(sim: DataverseSimulator) -> None:
    sim.add_fault(FaultRule(kind="drop_before", operation="token", times=1))
    with pytest.raises(requests.ConnectionError):
        fetch_token(sim)
    assert sim.requests == []  # token calls are counted in token_requests, not in the API records
    assert sim.token_requests == 1
    fetch_token(sim)
    assert sim.errors == []


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "explode"},
        {"kind": "status", "operation": "contacts"},
        {"kind": "status", "rate": 1.5},
        {"kind": "slow"},
        {"kind": "status", "status": 99},
        {"kind": "status", "every": 0},
    ],
)
def test_invalid_fault_rules_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid FaultRule"):
        FaultRule(**fields)


# ---------------------------------------------------------------- throttling and latency


def test_concurrency_above_the_limit_is_429_0x80072326(sim: DataverseSimulator, workstream: str) -> None:
    sim.max_concurrency = 2
    sim.latency = 0.3
    token = fetch_token(sim)
    results: list[requests.Response] = []
    lock = threading.Lock()

    def call() -> None:
        response = requests.get(
            f"{sim.url}{API}msdyn_liveworkstreams({workstream})",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        with lock:
            results.append(response)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    throttled = [r for r in results if r.status_code == 429]
    assert sum(r.status_code == 200 for r in results) == 2
    assert len(throttled) == 4
    assert {error_of(r)[1] for r in throttled} == {"0x80072326"}
    assert throttled[0].headers["Retry-After"] == "1"
    assert "limit of 2" in throttled[0].json()["error"]["message"]
    assert sim.peak_concurrency == 2


def test_latency_is_added_to_every_api_call(client: Client, workstream: str) -> None:
    client.sim.latency = 0.15
    started = time.monotonic()
    client.get(f"msdyn_liveworkstreams({workstream})")
    assert time.monotonic() - started >= 0.15
    assert client.sim.requests[-1].duration_ms >= 150


# ---------------------------------------------------------------- records, connections, admin, CLI


def test_requests_are_recorded_with_operation_status_and_redacted_headers(
    client: Client, workstream: str
) -> None:
    client.contacts("emailaddress1 eq 'a@example.com'")
    client.get(f"msdyn_liveworkstreams({workstream})")
    client.create(work_item_body(workstream))

    records = client.sim.requests
    assert [(r.method, r.operation, r.status) for r in records] == [
        ("GET", "contact_lookup", 200),
        ("GET", "workstream_get", 200),
        ("POST", "create_work_item", 204),
    ]
    assert records[0].query["$filter"] == "emailaddress1 eq 'a@example.com'"
    assert records[0].headers["authorization"] == "<redacted>"
    assert records[0].headers["odata-version"] == "4.0"
    stats = client.sim.stats()
    assert stats["operations"]["create_work_item"] == {"204": 1}
    assert stats["token_requests"] == 1


def test_every_answer_is_framed_and_closes_its_connection(client: Client, workstream: str) -> None:
    """werkzeug closes after each answer (no keep-alive: harder on a client than Dataverse is); a client
    that reuses its connection object reconnects and is served every time."""
    connection = http.client.HTTPConnection("127.0.0.1", client.sim.port, timeout=5)
    for _ in range(3):
        connection.request("GET", f"{API}msdyn_liveworkstreams({workstream})", headers=client.headers())
        response = connection.getresponse()
        assert response.status == 200
        assert response.version == 11
        assert response.getheader("Connection") == "close"
        assert response.getheader("Content-Length") == str(len(response.read()))
    connection.close()


def test_stop_cuts_pooled_connections_and_start_reuses_the_port(client: Client, workstream: str) -> None:
    sim = client.sim
    url = sim.url
    assert client.get(f"msdyn_liveworkstreams({workstream})").status_code == 200
    sim.stop()
    with pytest.raises(requests.ConnectionError):
        client.get(f"msdyn_liveworkstreams({workstream})", timeout=2)
    sim.start()
    assert sim.url == url
    assert client.get(f"msdyn_liveworkstreams({workstream})").status_code == 200


def test_admin_api_seeds_faults_inspects_and_resets(sim: DataverseSimulator) -> None:
    admin = f"{sim.url}/_sim/"
    workstream = requests.post(f"{admin}workstreams", json={"name": "WhatsApp"}, timeout=5).json()
    contact = requests.post(f"{admin}contacts", json={"email": "a@example.com"}, timeout=5).json()
    assert requests.post(f"{admin}faults", json={"kind": "status", "status": 503, "times": 1}, timeout=5).ok
    assert requests.post(f"{admin}faults", json={"kind": "nope"}, timeout=5).status_code == 400
    assert requests.post(f"{admin}config", json={"latency": 0.01}, timeout=5).json()["latency"] == 0.01

    client = Client(sim)
    ws_id = workstream["msdyn_liveworkstreamid"]
    assert client.create(work_item_body(ws_id)).status_code == 503
    body = work_item_body(ws_id, **{CONTACT_BIND: f"/contacts({contact['contactid']})"})
    assert client.create(body).status_code == 204

    items = requests.get(f"{admin}workitems", timeout=5).json()["value"]
    assert [item["activityid"] for item in items] == [body["activityid"]]
    stats = requests.get(f"{admin}stats", timeout=5).json()
    assert stats["operations"]["create_work_item"] == {"503": 1, "204": 1}
    assert stats["create_attempts"] == 2
    assert len(requests.get(f"{admin}requests", timeout=5).json()["value"]) == 2

    assert requests.delete(f"{admin}faults", timeout=5).status_code == 204
    assert requests.post(f"{admin}expire-tokens", timeout=5).status_code == 204
    assert client.create(work_item_body(ws_id)).status_code == 401
    assert requests.post(f"{admin}reset", timeout=5).status_code == 204
    assert sim.work_items == [] and sim.requests == [] and sim.create_attempts == 0
    assert requests.get(f"{admin}nothing", timeout=5).status_code == 404
    assert sim.errors == []


def test_seed_demo_covers_email_phone_and_ambiguous_links(client: Client) -> None:
    ids = seed_demo(client.sim)
    assert ids["workstream"] == DEMO_WORKSTREAM_ID
    by_email = client.contacts("emailaddress1 eq 'priya.n@example.com'").json()["value"]
    by_mobile = client.contacts("mobilephone eq '+14155550123' or telephone1 eq '+14155550123'").json()[
        "value"
    ]
    ambiguous = client.contacts("mobilephone eq '+4915123456789' or telephone1 eq '+4915123456789'").json()
    unmatched = client.contacts("emailaddress1 eq 'jonas.mueller@example.de'").json()["value"]
    assert [row["contactid"] for row in by_email] == [ids["priya"]]
    assert [row["contactid"] for row in by_mobile] == [ids["dana"]]
    assert len(ambiguous["value"]) == 2
    assert unmatched == []


def test_cli_prints_its_json_line_and_serves(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.dataverse_sim", "--seed-demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["identity_endpoint"] == f"{info['url']}/msi/token"
        token = requests.get(
            info["identity_endpoint"],
            params={"api-version": "2019-08-01", "resource": info["url"]},
            headers={"X-IDENTITY-HEADER": info["identity_header"]},
            timeout=5,
        ).json()["access_token"]
        response = requests.get(
            f"{info['url']}{API}msdyn_liveworkstreams({DEMO_WORKSTREAM_ID})",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
    assert process.stderr is not None and process.stderr.read() == ""
