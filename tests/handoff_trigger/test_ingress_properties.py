"""Property: through the function object, any signed body is answered 2xx only if it is a valid
handoff (or an ignored event type), never 5xx, and only a 202 puts a message on the queue."""

import json

import azure.functions as func
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient
from helpers import function_named
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.signing import signed_headers
from shared.opencx.webhook import HANDOFF_REQUESTED, HandoffInvalid, parse_handoff_event

leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
json_values = st.recursive(
    leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8,
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from([HANDOFF_REQUESTED, "handoff.requested", "other.event"]),
            "data": st.fixed_dictionaries(
                {
                    "sessionId": st.text(max_size=10) | json_values,
                    "channel": st.sampled_from(["sms", "web", "whatsapp", "fax"]),
                    "summary": st.text(max_size=30),
                    "customer": st.fixed_dictionaries(
                        {"phone": st.sampled_from([None, "+14155550123", "12", "x"]), "email": json_values}
                    ),
                }
            ),
        }
    ),
    json_values,
)


def depth(env: dict[str, str]) -> int:
    client = QueueClient.from_connection_string(env["AzureWebJobsStorage"], env["HANDOFF_QUEUE"])
    try:
        return client.get_queue_properties().approximate_message_count
    except ResourceNotFoundError:
        return 0


def valid(body: object) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get("type"), str) or not body["type"]:
        return False
    if body["type"] != HANDOFF_REQUESTED:
        return True
    try:
        parse_handoff_event(body)
    except HandoffInvalid:
        return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_signed_body_is_2xx_only_when_valid(bridge_env, body):
    raw = json.dumps(body)
    before = depth(bridge_env)
    request = func.HttpRequest(
        method="POST", url="/api/handoffs", headers=signed_headers(raw), body=raw.encode()
    )
    response = function_named("handoff_trigger")(request, None)
    after = depth(bridge_env)
    assert response.status_code < 500
    assert (200 <= response.status_code < 300) == valid(body)
    assert (after - before) == (1 if response.status_code == 202 else 0)
