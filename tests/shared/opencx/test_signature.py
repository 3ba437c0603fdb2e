import time
from datetime import UTC, datetime

import pytest
import standardwebhooks.webhooks as reference

from devtools.signing import DEV_WEBHOOK_SECRET, signed_headers
from shared.opencx.signature import SignatureInvalid, verify_signature

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


# --- properties (Hypothesis) ----------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=60)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.from_regex(r"[!-~]{1,40}", fullmatch=True))
def test_signed_bodies_verify_and_any_change_fails(body, webhook_id):
    headers = signed_headers(body, webhook_id=webhook_id)
    assert verify_signature(body, headers, [DEV_WEBHOOK_SECRET]) == webhook_id
    with pytest.raises(SignatureInvalid):
        verify_signature(body + " ", headers, [DEV_WEBHOOK_SECRET])


@settings(max_examples=300, deadline=None)
@given(header_text, header_text, header_text)
def test_arbitrary_headers_only_ever_raise_signature_invalid(webhook_id, timestamp, signature):
    headers = {"webhook-id": webhook_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    with pytest.raises(SignatureInvalid):
        verify_signature("{}", headers, [DEV_WEBHOOK_SECRET])
