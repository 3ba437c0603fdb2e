"""The concierge in `/api/health` (the availability call, the role named on 405) and in
`GET /api/handoffs/{sessionId}` (the answer used and each message the customer got)."""

import json
import uuid
from datetime import UTC, datetime

import azure.functions as func
from helpers import function_named, reset_process_caches, sample_event

from devtools.opencx_sim import SMS_SESSION_ID


def health() -> tuple[int, dict[str, dict]]:
    request = func.HttpRequest(method="GET", url="http://localhost/api/health", headers={}, body=b"")
    response = function_named("health")(request)
    body = json.loads(response.get_body())
    return response.status_code, {check["name"]: check for check in body["checks"]}


def get_status(session_id: str) -> func.HttpResponse:
    request = func.HttpRequest(
        method="GET", url=f"http://localhost/api/handoffs/{session_id}", headers={}, body=b"",
        route_params={"sessionId": session_id},
    )  # fmt: skip
    return function_named("handoff_status")(request)


def deliver(handoff_id: str) -> str:
    from retry_queue.worker import handle
    from shared.dynamics.dataverse import dataverse_client
    from shared.opencx.client import opencx_client
    from shared.opencx.handoff_message import build_message
    from shared.opencx.webhook import parse_event
    from shared.platform.settings import get_settings

    message = build_message(handoff_id, parse_event(sample_event()), datetime.now(UTC), None)
    return handle(message, get_settings(), opencx_client(), dataverse_client())


def _concierge_on(monkeypatch):
    monkeypatch.setenv("CONCIERGE", "true")
    monkeypatch.setenv("CONCIERGE_TIME_ZONE", "America/New_York")
    reset_process_caches()


def test_health_checks_the_availability_call(bridge_env, dataverse, opencx, monkeypatch):
    _concierge_on(monkeypatch)
    dataverse.availability.configure({"enabled": True})
    status, checks = health()
    assert status == 200, checks
    assert checks["concierge_availability"]["ok"]


def test_health_names_the_omnichannel_administrator_role_on_405(bridge_env, dataverse, opencx, monkeypatch):
    _concierge_on(monkeypatch)
    status, checks = health()  # the simulator refuses the API until enabled: 405
    assert status == 503
    check = checks["concierge_availability"]
    assert not check["ok"]
    assert "http_405" in check["detail"]
    assert "Omnichannel administrator" in check["fix"]


def test_health_has_no_concierge_check_when_off(bridge_env, dataverse, opencx):
    _, checks = health()
    assert "concierge_availability" not in checks


def test_status_shows_the_answer_used_and_the_message_sent(bridge_env, dataverse, opencx, monkeypatch):
    _concierge_on(monkeypatch)
    dataverse.availability.configure(
        {"enabled": True, "time_zone": "America/New_York", "now": "2026-12-08T03:00:00Z"}
    )
    assert deliver(f"h_{uuid.uuid4().hex[:6]}") == "created"
    response = get_status(SMS_SESSION_ID)
    assert response.status_code == 200
    body = json.loads(response.get_body())
    [row] = body["handoffs"]
    assert (row["availability"], row["notice"], row["noticeOutcome"]) == ("closed", "closed_chat", "sent")
    [sent] = body["customerMessages"]
    assert "9:00 AM Tue" in sent["text"]
    assert sent["state"] == "sent"
    assert body["writtenBack"] == {"dynamics365_chat_id": row["dynamics365_chat_id"]}
