"""A small Web API client and body builders for the simulator's tests (real HTTP, a real token)."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from devtools.dataverse_sim import DataverseSimulator

API = "/api/data/v9.2/"
CUSTOMER_BIND = "customerid_contact@odata.bind"
OWNER_BIND = "ownerid@odata.bind"
ADD_TO_QUEUE = "Microsoft.Dynamics.CRM.AddToQueue"


def fetch_token(sim: DataverseSimulator) -> str:
    response = requests.get(
        sim.identity_endpoint,
        params={"api-version": "2019-08-01", "resource": sim.url},
        headers={"X-IDENTITY-HEADER": sim.identity_header},
        timeout=5,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


class Client:
    """A pooled requests.Session with a valid token, the way the bridge's client talks to Dataverse."""

    def __init__(self, sim: DataverseSimulator) -> None:
        self.sim = sim
        self.session = requests.Session()
        self.token = fetch_token(sim)

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "OData-Version": "4.0",
            "OData-MaxVersion": "4.0",
            "Accept": "application/json",
            **extra,
        }

    def get(self, path: str, params: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.get(f"{self.sim.url}{API}{path}", params=params, headers=self.headers(), **kwargs)

    def post(
        self, path: str, body: Any, params: dict[str, str] | None = None, **headers: str
    ) -> requests.Response:
        return self.session.post(
            f"{self.sim.url}{API}{path}",
            json=body,
            params=params,
            headers=self.headers(**headers),
            timeout=10,
        )

    def contacts(self, flt: str, top: str = "10", select: str = "contactid") -> requests.Response:
        return self.get("contacts", {"$select": select, "$top": top, "$filter": flt})

    def add_to_queue(self, queue_id: str, incident_id: str) -> requests.Response:
        target = {"incidentid": incident_id, "@odata.type": "Microsoft.Dynamics.CRM.incident"}
        return self.post(f"queues({queue_id})/{ADD_TO_QUEUE}", {"Target": target})


def error_of(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def contact_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contactid": str(uuid.uuid4()),
        "firstname": "Ana",
        "lastname": "Lopez",
        "emailaddress1": "ana.lopez@example.com",
        "mobilephone": "+14155550100",
        "description": "Created by the OpenCX bridge for conversation conv_1.",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def incident_body(contact_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "incidentid": str(uuid.uuid4()),
        "title": "Billing question - Ana Lopez",
        "description": "Channel: email\nSummary: wants a refund\n\n[10:00] customer: hello",
        "prioritycode": 2,
        CUSTOMER_BIND: f"/contacts({contact_id})",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}
