"""Property: through the function object, a body is answered 2xx exactly when an independent
oracle (written from docs/contract.md section 2, importing nothing from the code under test) says it
is a valid handoff or an event to ignore, never 5xx, and exactly the valid handoffs are enqueued."""

from __future__ import annotations

import itertools
import json
import unicodedata

import azure.functions as func
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient
from helpers import function_named
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HANDOFF = "conversation.handoff_to_human"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_ids = itertools.count()

# Timestamps labelled by the contract ("ISO 8601 date-time with a time zone"), not by the parser.
GOOD_TIMESTAMPS = ["2026-11-25T09:59:42.118Z", "2026-11-25T09:59:42+02:00", "2026-11-25T09:59:42-05:30"]
BAD_TIMESTAMPS = ["2026-11-25T09:59:42", "yesterday", "", "2026-02-30T00:00:00Z", "25/11/2026 10:00Z"]

leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
json_values = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
conversation_ids = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=ZERO_WIDTH + " ", max_size=4),
    st.text(alphabet="abc-/\\#?\n\x00\x7f\x85", min_size=1, max_size=6),
    st.integers(min_value=128, max_value=131).map(lambda n: "c" * n),
    st.integers(),
    st.none(),
)
data_objects = st.fixed_dictionaries(
    {
        "conversation_id": conversation_ids,
        "timestamp": st.sampled_from(GOOD_TIMESTAMPS + BAD_TIMESTAMPS) | st.integers() | st.none(),
    },
    optional={
        "summary": st.none()
        | st.text(max_size=30)
        | st.text(alphabet=ZERO_WIDTH, max_size=3)
        | st.integers(),
        "reason": json_values,
        "message_count": json_values,
        "language": json_values,
        "surprise": json_values,
    },
)
envelopes = st.fixed_dictionaries(
    {
        "event": st.sampled_from([HANDOFF, "conversation.closed", "conversation.contact_response", "other"])
        | st.sampled_from(["", "  ", "\u200b"])
        | st.integers()
        | st.none(),
        "data": data_objects | st.lists(data_objects, min_size=0, max_size=2) | json_values,
    },
    optional={"organization_id": st.none() | st.text(max_size=10)},
)
bodies = envelopes | json_values
header_ids = st.none() | st.sampled_from(["msg_ok", "a/b", "msg\nforged", "x" * 257, "msg_ü", "tab\tid"])


def blank(text: str) -> bool:
    return not "".join(ch for ch in text if ch not in ZERO_WIDTH).strip()


def usable_id(value: object, max_length: int) -> bool:
    """The contract: 1..max characters, not blank, no control characters, none of / \\ # ?."""
    return (
        isinstance(value, str)
        and not blank(value)
        and len(value) <= max_length
        and not any(unicodedata.category(ch) == "Cc" for ch in value)
        and not any(ch in "/\\#?" for ch in value)
    )


def oracle(body: object, header_id: str | None) -> str:
    """'handoff' (202, one message), 'ignored' (200, none) or 'invalid' (4xx, none)."""
    if not isinstance(body, dict):
        return "invalid"
    event = body.get("event")
    if not isinstance(event, str) or blank(event):
        return "invalid"
    if event.strip() != HANDOFF:
        return "ignored"
    data = body.get("data")
    if isinstance(data, list):
        if len(data) != 1:
            return "invalid"
        data = data[0]
    if not isinstance(data, dict):
        return "invalid"
    if not usable_id(data.get("conversation_id"), 128):
        return "invalid"
    if data.get("timestamp") not in GOOD_TIMESTAMPS:
        return "invalid"
    if "summary" in data and data["summary"] is not None and not isinstance(data["summary"], str):
        return "invalid"
    if header_id is not None and not (usable_id(header_id, 256) and header_id.isascii()):
        return "invalid"
    return "handoff"


def depth(env: dict[str, str]) -> int:
    client = QueueClient.from_connection_string(env["AzureWebJobsStorage"], env["HANDOFF_QUEUE"])
    try:
        return client.get_queue_properties().approximate_message_count
    except ResourceNotFoundError:
        return 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, header_id=header_ids)
def test_2xx_and_enqueue_exactly_when_the_oracle_says_valid(bridge_env, body, header_id):
    raw = json.dumps(body)
    headers = {"content-type": "application/json"}
    if header_id is not None:
        # a fresh id per example, so a repeated body is never a duplicate of an earlier example
        header_id = header_id.replace("msg_ok", f"msg_ok_{next(_ids)}")
        headers["webhook-id"] = header_id
    else:
        headers["webhook-id"] = f"msg_fresh_{next(_ids)}"
    before = depth(bridge_env)
    request = func.HttpRequest(method="POST", url="/api/handoffs", headers=headers, body=raw.encode())
    response = function_named("handoff_trigger")(request, None)
    added = depth(bridge_env) - before
    expected = oracle(body, headers["webhook-id"])
    assert response.status_code < 500, response.get_body()
    status = {"handoff": 202, "ignored": 200}.get(expected)
    if status is None:
        assert 400 <= response.status_code < 500, (expected, response.status_code, response.get_body())
    else:
        assert response.status_code == status, (expected, response.get_body())
    assert added == (1 if expected == "handoff" else 0)


def test_the_oracle_can_say_no():
    """Guard against an oracle that accepts everything: known-bad bodies are invalid."""
    good = {"event": HANDOFF, "data": {"conversation_id": "c1", "timestamp": GOOD_TIMESTAMPS[0]}}
    assert oracle(good, None) == "handoff"
    assert oracle(good | {"data": [good["data"]]}, None) == "handoff"
    assert oracle(good | {"event": "conversation.closed"}, None) == "ignored"
    assert oracle(good, "a/b") == "invalid"
    assert oracle(good | {"data": {**good["data"], "conversation_id": "\u200b"}}, None) == "invalid"
    assert oracle(good | {"data": {**good["data"], "timestamp": BAD_TIMESTAMPS[0]}}, None) == "invalid"
    assert oracle([good], None) == "invalid"
