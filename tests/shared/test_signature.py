import time
from datetime import UTC, datetime

import pytest
import standardwebhooks.webhooks as reference

from devtools.signing import DEV_WEBHOOK_SECRET, signed_headers
from shared.signature import SignatureInvalid, verify_signature

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = "1614265330"
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER_SECRET = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
BODY = '{"type":"handoff.requested"}'


@pytest.fixture
def frozen_at_spec_time(monkeypatch):
    class SpecTime(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(int(SPEC_TIMESTAMP), tz or UTC)

    monkeypatch.setattr(reference, "datetime", SpecTime)


def spec_headers(signature=SPEC_SIGNATURE):
    return {"webhook-id": SPEC_ID, "webhook-timestamp": SPEC_TIMESTAMP, "webhook-signature": signature}


def test_spec_example_vector_verifies(frozen_at_spec_time):
    assert verify_signature(SPEC_BODY, spec_headers(), [SPEC_SECRET]) == SPEC_ID


def test_spec_vector_among_several_signatures(frozen_at_spec_time):
    headers = spec_headers("v1,bm9wZQ== v2,abc " + SPEC_SIGNATURE)
    assert verify_signature(SPEC_BODY, headers, [SPEC_SECRET]) == SPEC_ID


def test_spec_vector_with_a_changed_body_fails(frozen_at_spec_time):
    with pytest.raises(SignatureInvalid):
        verify_signature('{"test": 2432232315}', spec_headers(), [SPEC_SECRET])


def test_own_signature_round_trip_and_header_case():
    headers = {k.upper(): v for k, v in signed_headers(BODY, webhook_id="msg_1").items()}
    assert verify_signature(BODY, headers, [DEV_WEBHOOK_SECRET]) == "msg_1"


def test_wrong_secret():
    with pytest.raises(SignatureInvalid, match="no matching signature"):
        verify_signature(BODY, signed_headers(BODY), [OTHER_SECRET])


def test_rotated_secrets_either_one_verifies():
    secrets = [OTHER_SECRET, DEV_WEBHOOK_SECRET]
    assert verify_signature(BODY, signed_headers(BODY, webhook_id="a"), secrets) == "a"
    assert verify_signature(BODY, signed_headers(BODY, OTHER_SECRET, webhook_id="b"), secrets) == "b"


@pytest.mark.parametrize(("offset", "words"), [(-301, "older"), (301, "future")])
def test_outside_tolerance(offset, words):
    headers = signed_headers(BODY, timestamp=int(time.time()) + offset)
    with pytest.raises(SignatureInvalid, match=words):
        verify_signature(BODY, headers, [DEV_WEBHOOK_SECRET])


@pytest.mark.parametrize("offset", [-290, 290])
def test_inside_tolerance(offset):
    headers = signed_headers(BODY, webhook_id="ok", timestamp=int(time.time()) + offset)
    assert verify_signature(BODY, headers, [DEV_WEBHOOK_SECRET]) == "ok"


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-signature": "garbage"},
        {"webhook-signature": "v1,!!!not-base64!!!"},
        {"webhook-signature": "v1,"},
        {"webhook-signature": "v1,a,b"},
        {"webhook-signature": ""},
        {"webhook-timestamp": "nan"},
        {"webhook-timestamp": "1e9"},
        {"webhook-timestamp": "-5"},
        {"webhook-timestamp": "99999999999999999999"},
        {"webhook-id": ""},
    ],
)
def test_malformed_headers_raise_signature_invalid_only(change):
    headers = signed_headers(BODY) | change
    with pytest.raises(SignatureInvalid):
        verify_signature(BODY, headers, [DEV_WEBHOOK_SECRET])


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named(missing):
    headers = signed_headers(BODY)
    del headers[missing]
    with pytest.raises(SignatureInvalid, match=missing):
        verify_signature(BODY, headers, [DEV_WEBHOOK_SECRET])


def test_id_is_part_of_what_is_signed():
    headers = signed_headers(BODY, webhook_id="msg_a") | {"webhook-id": "msg_b"}
    with pytest.raises(SignatureInvalid):
        verify_signature(BODY, headers, [DEV_WEBHOOK_SECRET])
