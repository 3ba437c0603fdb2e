"""Fuzzing with schemathesis against openapi.yaml, the local runner serving over real HTTP:
no 5xx for any generated input, and every response conforms to the spec (status, content type,
headers, body schema). The stack runs with a webhook secret, so signatures are required there:
positive cases are signed as a sender would, so generation reaches past the signature check into
validation and enqueueing; negative cases are sent as generated."""

import json
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from devtools.opencx_sim import OpenCXSimulator
from devtools.send_handoff import DEV_WEBHOOK_SECRET, new_webhook_id, signed_headers
from devtools.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")


@pytest.fixture(scope="module")
def stack():
    # Ingress never calls OpenCX, but /health checks the key: a real loopback OpenCX keeps it
    # healthy (its rate limit off: the fuzzer calls /health far more often than 100 times a minute).
    with (
        OpenCXSimulator(api_key="ocx_openapi_test_key", rate_limit=None) as opencx,
        Stack(
            runner_log=Path("/dev/null"), settings=opencx.env(), webhook_secret=DEV_WEBHOOK_SECRET
        ) as running,
    ):
        yield running


def signature_for(body: bytes, generated: dict[str, str]) -> dict[str, str]:
    """Sign as a sender would, under the generated webhook-id (or svix-id) when there is one, so an
    unusable id is still refused by validation rather than by the signature."""
    webhook_id = generated.get("webhook-id") or generated.get("svix-id") or new_webhook_id()
    signed = signed_headers(body.decode("utf-8", errors="replace"), webhook_id=webhook_id)
    return {k: v for k, v in signed.items() if k != "content-type"}


def signed_call(case, stack: Stack) -> tuple[requests.Response, dict]:
    kwargs = case.as_transport_kwargs(base_url=f"{stack.base_url}/api")
    headers = dict(kwargs.pop("headers", None) or {})
    headers["x-functions-key"] = stack.function_key
    if case.method == "POST":
        body = (
            json.dumps(kwargs.pop("json", None)).encode()
            if "json" in kwargs
            else kwargs.pop("data", b"") or b""
        )
        body = body.encode() if isinstance(body, str) else body
        negative = case.meta is not None and case.meta.generation.mode.is_negative
        if not negative:  # a schema-violating case must stay violating: it is sent as generated
            headers |= signature_for(body, headers)
        kwargs["data"] = body
    kwargs["headers"] = headers
    kwargs.setdefault("timeout", 15)
    return requests.request(**kwargs), kwargs


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_response_conforms(case, stack):
    response, kwargs = signed_call(case, stack)
    assert response.status_code < 500 or (case.path == "/health" and response.status_code == 503), (
        response.text
    )
    # Two checks are excluded, each for a reason:
    # - ignored_auth: the test injects the real function key, so "accepted despite the generated
    #   (empty) ?code=" is the runner honouring the header. Key checks: tests/devtools/test_localhost.py.
    # - positive_data_acceptance: a schema-valid body can still be an invalid event (a conversation_id
    #   of zero-width characters only, a date-time the parser reads differently, a webhook-id with
    #   "/"); the documented answer is 422. "2xx exactly when valid" is proven against an independent
    #   oracle in tests/handoff_trigger/test_ingress_properties.py.
    case.validate_response(
        response, transport_kwargs=kwargs, excluded_checks=[ignored_auth, positive_data_acceptance]
    )
