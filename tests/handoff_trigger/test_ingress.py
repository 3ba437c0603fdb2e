"""POST /api/handoffs through the function object, as the Functions host calls it, with real Azurite."""

import json
import time

import azure.functions as func
import pytest
from helpers import SAMPLES, function_named, queue_messages, reset_process_caches, with_dead_table_endpoint

from devtools.signing import DEV_WEBHOOK_SECRET, signed_headers


class FakeContext:
    trace_context = None
    invocation_id = "test-invocation"


def post(body: bytes | str, headers: dict[str, str] | None = None, sign: bool = True, **sign_args):
    raw = body.encode() if isinstance(body, str) else body
    all_headers = {}
    if sign:
        all_headers = signed_headers(raw.decode("utf-8", errors="replace"), **sign_args)
    all_headers.update(headers or {})
    request = func.HttpRequest(
        method="POST", url="http://localhost/api/handoffs", headers=all_headers, body=raw
    )
    return function_named("handoff_trigger")(request, FakeContext())


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def problem_of(response: func.HttpResponse) -> dict:
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.get_body())
    assert body["status"] == response.status_code
    return body


@pytest.mark.parametrize("name", ["sms-handoff.json", "whatsapp-handoff.json", "web-handoff.json"])
def test_signed_sample_is_accepted_and_enqueued_exactly_once(bridge_env, name):
    body = (SAMPLES / name).read_bytes()
    response = post(body, webhook_id="msg_sample_1")
    assert response.status_code == 202
    answer = json.loads(response.get_body())
    assert answer == {
        "status": "accepted",
        "handoffId": "msg_sample_1",
        "sessionId": sample(name)["data"]["sessionId"],
    }

    [text] = queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])
    message = json.loads(text)
    assert message["v"] == 1
    assert message["handoffId"] == "msg_sample_1"
    assert message["attempt"] == 0
    assert message["receivedAt"]
    assert message["traceparent"].startswith("00-")
    assert message["handoff"]["sessionId"] == sample(name)["data"]["sessionId"]
    assert message["handoff"]["channel"] == sample(name)["data"]["channel"]
    assert len(text.encode()) < 48 * 1024


def test_whatsapp_phone_is_enqueued_normalised(bridge_env):
    post((SAMPLES / "whatsapp-handoff.json").read_bytes())
    [text] = queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])
    assert json.loads(text)["handoff"]["customer"]["phone"] == "+4915123456789"


def test_caller_traceparent_is_carried(bridge_env):
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    post((SAMPLES / "sms-handoff.json").read_bytes(), {"traceparent": traceparent})
    [text] = queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])
    assert json.loads(text)["traceparent"] == traceparent


def test_other_event_types_are_ignored_with_200(bridge_env):
    response = post(json.dumps({"type": "session.closed", "data": {}}))
    assert response.status_code == 200
    assert json.loads(response.get_body())["ignored"] is True
    assert queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"]) == []


def expect_rejected(bridge_env, response, status: int) -> dict:
    assert response.status_code == status, response.get_body()
    assert queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"]) == []
    return problem_of(response)


def test_not_json_is_400(bridge_env):
    expect_rejected(bridge_env, post("{not json"), 400)


def test_not_utf8_is_400(bridge_env):
    body = '{"type": "handoff.requested", "x": "caf\xe9"}'.encode("latin-1")
    expect_rejected(bridge_env, post(body, signed_headers("x"), sign=False), 400)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-signature": "v1,AAAA"},
        {"webhook-signature": "v1,%%%"},
        {"webhook-signature": "nonsense"},
        {"webhook-timestamp": "yesterday"},
        {"webhook-timestamp": str(int(time.time()) - 400)},
        {"webhook-timestamp": str(int(time.time()) + 400)},
    ],
)
def test_bad_signatures_are_401(bridge_env, headers):
    body = (SAMPLES / "sms-handoff.json").read_bytes()
    if headers:
        headers = signed_headers(body) | headers
    expect_rejected(bridge_env, post(body, headers, sign=False), 401)


def test_wrong_secret_is_401(bridge_env):
    body = (SAMPLES / "sms-handoff.json").read_bytes()
    response = post(body, secret="whsec_" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJC")
    assert DEV_WEBHOOK_SECRET not in expect_rejected(bridge_env, response, 401)["detail"]


def test_body_over_one_mib_is_413_before_any_work(bridge_env):
    body = json.dumps({"type": "handoff.requested", "pad": "x" * (1024 * 1024)})
    expect_rejected(bridge_env, post(body, {"webhook-signature": "v1,AAAA"}), 413)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_wrong_content_type_is_415(bridge_env, content_type):
    response = post((SAMPLES / "sms-handoff.json").read_bytes(), {"content-type": content_type})
    expect_rejected(bridge_env, response, 415)


def test_json_content_type_with_charset_is_fine(bridge_env):
    response = post(
        (SAMPLES / "sms-handoff.json").read_bytes(), {"content-type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("mutate", "fields"),
    [
        (lambda b: b["data"].pop("sessionId"), ["data.sessionId"]),
        (lambda b: b["data"].update(channel="fax"), ["data.channel"]),
        (lambda b: b["data"].update(summary=""), ["data.summary"]),
        (lambda b: b["data"]["customer"].update(phone=None), ["data.customer.phone"]),
        (lambda b: b["data"]["customer"].update(phone="+1 415"), ["data.customer.phone"]),
        (lambda b: b["data"]["customer"].update(email="dana@"), ["data.customer.email"]),
        (lambda b: b.pop("data"), ["data"]),
        (lambda b: b.pop("type"), ["type"]),
        (
            lambda b: b["data"].update(sessionId="", summary="", customer={"phone": "x", "email": "y"}),
            ["data.sessionId", "data.summary", "data.customer.phone", "data.customer.email"],
        ),
    ],
)
def test_invalid_handoffs_are_422_listing_every_field(bridge_env, mutate, fields):
    body = sample("sms-handoff.json")
    mutate(body)
    problem = expect_rejected(bridge_env, post(json.dumps(body)), 422)
    assert sorted(error["field"] for error in problem["errors"]) == sorted(fields)
    assert "+14155550123" not in json.dumps(problem)


@pytest.mark.parametrize("payload", ["[]", "null", "42", '"text"'])
def test_json_that_is_not_an_object_is_422(bridge_env, payload):
    expect_rejected(bridge_env, post(payload), 422)


@pytest.mark.parametrize("webhook_id", ["a/b", "has space", "x" * 257, "q?x"])
def test_unusable_webhook_id_is_422(bridge_env, webhook_id):
    problem = expect_rejected(
        bridge_env, post((SAMPLES / "sms-handoff.json").read_bytes(), webhook_id=webhook_id), 422
    )
    assert problem["errors"][0]["field"] == "header:webhook-id"


def test_oversized_transcript_is_trimmed_not_refused(bridge_env):
    body = sample("sms-handoff.json")
    body["data"]["transcript"] = [{"role": "customer", "text": "y" * 1000} for _ in range(200)]
    assert post(json.dumps(body)).status_code == 202
    [text] = queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])
    assert len(text.encode()) < 48 * 1024
    assert json.loads(text)["handoff"]["transcriptTruncated"] is True


def test_invalid_settings_answer_503_and_enqueue_nothing(bridge_env, monkeypatch):
    monkeypatch.setenv("DEFAULT_QUEUE_ID", "nope")
    reset_process_caches()
    response = post((SAMPLES / "sms-handoff.json").read_bytes())
    assert expect_rejected(bridge_env, response, 503)["title"] == "Bridge misconfigured"


def test_queue_outage_is_503_fast_then_the_retry_is_accepted(bridge_env, azurite):
    body = (SAMPLES / "sms-handoff.json").read_bytes()
    azurite.stop()
    try:
        started = time.monotonic()
        response = post(body, webhook_id="msg_outage")
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.headers.get("Retry-After")
        assert elapsed < 10
    finally:
        azurite.start()
    retry = post(body, webhook_id="msg_outage")
    assert retry.status_code == 202
    [text] = queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])
    assert json.loads(text)["handoffId"] == "msg_outage"


def test_no_pii_in_logs_or_responses(bridge_env, caplog):
    caplog.set_level("DEBUG")
    body = sample("whatsapp-handoff.json")
    response = post(json.dumps(body))
    bad = dict(body)
    bad["data"] = {
        **body["data"],
        "customer": {"phone": "+4915123456789", "email": "jonas.mueller@@example.de"},
    }
    rejected = post(json.dumps(bad))
    everything = (
        caplog.text
        + repr([vars(r) for r in caplog.records])
        + str(response.get_body())
        + str(rejected.get_body())
    )
    for secret in ("4915123456789", "151 2345 6789", "jonas.mueller", DEV_WEBHOOK_SECRET, "Billing dispute"):
        assert secret not in everything
    accepted = [r for r in caplog.records if getattr(r, "event", "") == "handoff.accepted"]
    assert accepted and accepted[0].handoffId and accepted[0].sessionId == "ses_01JDX5WA0001"


def test_duplicate_webhook_id_is_200_without_a_second_enqueue(bridge_env):
    from handoff_trigger.ingress import wait_for_status_writes
    from shared.platform.status_store import get_row

    body = (SAMPLES / "sms-handoff.json").read_bytes()
    first = post(body, webhook_id="msg_dup_1")
    assert first.status_code == 202
    session = sample("sms-handoff.json")["data"]["sessionId"]
    wait_for_status_writes()  # the accepted row is written after the response
    assert get_row(session, "msg_dup_1")["status"] == "accepted"
    again = post(body, webhook_id="msg_dup_1")
    assert again.status_code == 200
    assert json.loads(again.get_body()) == {
        "status": "duplicate",
        "duplicate": True,
        "handoffId": "msg_dup_1",
        "sessionId": session,
    }
    assert len(queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])) == 1
    # another webhook-id of the same session is a new handoff
    assert post(body, webhook_id="msg_dup_2").status_code == 202
    assert len(queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])) == 2


def test_table_outage_neither_loses_nor_blocks_a_handoff(bridge_env, monkeypatch, caplog):

    dead = with_dead_table_endpoint(bridge_env["AzureWebJobsStorage"])
    assert dead != bridge_env["AzureWebJobsStorage"]
    monkeypatch.setenv("AzureWebJobsStorage", dead)
    reset_process_caches()
    body = (SAMPLES / "sms-handoff.json").read_bytes()
    started = time.monotonic()
    response = post(body, webhook_id="msg_table_down")
    assert response.status_code == 202
    assert time.monotonic() - started < 3
    [text] = queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])
    assert json.loads(text)["handoffId"] == "msg_table_down"
    assert any(getattr(r, "event", None) == "status_store.unavailable" for r in caplog.records)


def test_lone_surrogates_are_repaired_not_a_500(bridge_env):
    """A JSON escape of half an emoji (JavaScript cut a string) must not crash the enqueue."""
    body = sample("sms-handoff.json")
    raw = json.dumps(body).replace("Friday.", "Friday \\ud83d.").replace('"Dana Reyes"', '"Dana \\ud83d"')
    raw = raw.replace('"1182"}', '"1182", "note\\ud83d": "x\\udc00"}')
    response = post(raw)
    assert response.status_code == 202, response.get_body()
    [text] = queue_messages(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"])
    assert "\ufffd" in json.loads(text)["handoff"]["customer"]["name"]


@pytest.mark.parametrize(("depth", "status"), [(40, 422), (200_000, 400)])
def test_absurd_nesting_is_a_client_error_not_a_500(bridge_env, depth, status):
    raw = json.dumps(sample("sms-handoff.json"))
    raw = raw[:-2] + ', "extra": ' + "[" * depth + "]" * depth + "}}"
    assert len(raw) < 1024 * 1024
    expect_rejected(bridge_env, post(raw), status)


def test_bad_secret_rotation_is_503_at_ingress_while_the_worker_still_delivers(
    bridge_env, dataverse, monkeypatch
):
    monkeypatch.setenv("OPENCX_WEBHOOK_SECRET", f"{DEV_WEBHOOK_SECRET} whsec_typo!")
    reset_process_caches()
    body = (SAMPLES / "sms-handoff.json").read_bytes()
    assert expect_rejected(bridge_env, post(body), 503)["title"] == "Bridge misconfigured"
    from helpers import enqueue_handoff

    text = enqueue_handoff(bridge_env["AzureWebJobsStorage"], "unused", "msg_secret_typo")
    function_named("retry_queue")(func.queue.QueueMessage(id="q", body=text.encode(), dequeue_count=1))
    assert len(dataverse.work_items) == 1
