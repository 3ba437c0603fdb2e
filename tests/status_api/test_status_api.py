"""GET /api/handoffs/{sessionId} through the function object, against Azurite and the simulator."""

import json
import uuid

import azure.functions as func
from helpers import SAMPLES, enqueue_handoff, function_named, reset_process_caches

from devtools.signing import signed_headers
from shared.dynamics.work_item import work_item_id

SESSION = "ses_01JDX4SMS7Q2"


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
    headers = signed_headers(body.decode(), webhook_id=webhook_id)
    request = func.HttpRequest(method="POST", url="http://localhost/api/handoffs", headers=headers, body=body)
    return function_named("handoff_trigger")(request, None)


def invoke_worker(text: str) -> None:
    message = func.queue.QueueMessage(id=str(uuid.uuid4()), body=text.encode(), dequeue_count=1)
    function_named("retry_queue")(message)


def test_unknown_session_is_404_problem(bridge_env):
    response = get_status("ses_nobody")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert json.loads(response.get_body())["status"] == 404


def test_session_lists_every_handoff_newest_first_with_chat_id(bridge_env, dataverse, monkeypatch):
    body = (SAMPLES / "sms-handoff.json").read_bytes()
    assert post(body, webhook_id="msg_st_1").status_code == 202
    invoke_worker(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_st_1"))
    monkeypatch.setenv("DEFAULT_QUEUE_ID", str(uuid.uuid4()))  # the second one dead-letters (404)
    reset_process_caches()
    assert post(body, webhook_id="msg_st_2").status_code == 202
    invoke_worker(enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_st_2"))

    response = get_status(SESSION)
    assert response.status_code == 200
    answer = json.loads(response.get_body())
    assert answer["sessionId"] == SESSION and answer["count"] == 2
    newest, oldest = answer["handoffs"]
    assert (newest["handoffId"], newest["status"]) == ("msg_st_2", "dead_lettered")
    assert newest["lastErrorStatus"] == 404 and newest["dynamics365_chat_id"] is None
    assert (oldest["handoffId"], oldest["status"]) == ("msg_st_1", "created")
    assert oldest["dynamics365_chat_id"] == work_item_id("msg_st_1")
    text = response.get_body().decode()
    for pii in ("4155550123", "Dana", "Reyes", "Customer wants"):
        assert pii not in text
