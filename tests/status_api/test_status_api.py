"""GET /api/handoffs/{sessionId} through the function object, against Azurite and the simulator."""

import json
import uuid

import azure.functions as func
from helpers import SAMPLES, function_named, queue_messages, reset_process_caches

from devtools.opencx_sim import SMS_SESSION_ID
from shared.dynamics.columns import derived_id


def get_status(session_id: str) -> func.HttpResponse:
    request = func.HttpRequest(
        method="GET",
        url=f"http://localhost/api/handoffs/{session_id}",
        headers={},
        body=b"",
        route_params={"sessionId": session_id},
    )
    return function_named("handoff_status")(request)


def post(body: bytes, webhook_id: str) -> func.HttpResponse:
    headers = {"content-type": "application/json", "webhook-id": webhook_id}
    request = func.HttpRequest(method="POST", url="http://localhost/api/handoffs", headers=headers, body=body)
    return function_named("handoff_trigger")(request, None)


def deliver_newest(env: dict[str, str]) -> None:
    """Run the worker on the message ingress queued last, as the host would."""
    text = queue_messages(env["AzureWebJobsStorage"], env["HANDOFF_QUEUE"])[-1]
    message = func.queue.QueueMessage(id=str(uuid.uuid4()), body=text.encode(), dequeue_count=1)
    function_named("retry_queue")(message)


def test_unknown_session_is_404_problem(bridge_env):
    response = get_status("ses_nobody")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert json.loads(response.get_body())["status"] == 404


def test_session_lists_every_handoff_newest_first_with_its_outcome(
    bridge_env, dataverse, opencx, monkeypatch
):
    body = (SAMPLES / "handoff-sms.json").read_bytes()
    assert post(body, webhook_id="msg_st_1").status_code == 202
    deliver_newest(bridge_env)
    assert post(body, webhook_id="msg_st_2").status_code == 202  # asked again while the first is open
    deliver_newest(bridge_env)
    monkeypatch.setenv("HANDOFF_DEDUP_WINDOW_SECONDS", "0")
    monkeypatch.setenv("DEFAULT_QUEUE_ID", str(uuid.uuid4()))  # the third one dead-letters (404)
    reset_process_caches()
    assert post(body, webhook_id="msg_st_3").status_code == 202
    deliver_newest(bridge_env)

    response = get_status(SMS_SESSION_ID)
    assert response.status_code == 200
    answer = json.loads(response.get_body())
    assert answer["sessionId"] == SMS_SESSION_ID and answer["count"] == 3
    newest, middle, oldest = answer["handoffs"]
    first_item = derived_id(SMS_SESSION_ID, "msg_st_1")
    assert (oldest["handoffId"], oldest["status"], oldest["channel"]) == ("msg_st_1", "created", "sms")
    assert oldest["dynamics365_chat_id"] == first_item
    assert (middle["handoffId"], middle["status"], middle["duplicate_of"]) == (
        "msg_st_2",
        "duplicate",
        first_item,
    )
    assert (newest["handoffId"], newest["status"]) == ("msg_st_3", "dead_lettered")
    assert newest["lastErrorStatus"] == 404 and newest["lastErrorTarget"] == "dataverse"
    assert newest["dynamics365_chat_id"] is None
    assert len(dataverse.work_items) == 1
    text = response.get_body().decode()
    for pii in ("4155550123", "Dana", "Reyes", "Customer wants", "order 1182"):
        assert pii not in text
