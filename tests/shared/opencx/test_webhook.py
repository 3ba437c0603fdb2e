import json

import pytest
from helpers import SAMPLES

from shared.opencx.webhook import Channel, Handoff, HandoffInvalid, normalise_phone, parse_handoff_event


def event(**data_overrides):
    data = {
        "sessionId": "ses_1",
        "channel": "sms",
        "summary": "Move my delivery",
        "customer": {"name": "Dana", "phone": "+14155550123", "email": None},
    }
    data.update(data_overrides)
    return {"type": "handoff.requested", "timestamp": "2026-11-25T10:00:00Z", "data": data}


def fields_of(body):
    with pytest.raises(HandoffInvalid) as caught:
        parse_handoff_event(body)
    return [error.field for error in caught.value.errors]


@pytest.mark.parametrize("sample", ["sms-handoff.json", "whatsapp-handoff.json", "web-handoff.json"])
def test_every_sample_is_valid(sample):
    parsed = parse_handoff_event(json.loads((SAMPLES / sample).read_text()))
    assert parsed.data.channel in set(Channel)


def test_whatsapp_sample_phone_and_email_are_normalised():
    parsed = parse_handoff_event(json.loads((SAMPLES / "whatsapp-handoff.json").read_text()))
    assert parsed.data.customer.phone == "+4915123456789"
    assert parsed.data.customer.email == "jonas.mueller@example.de"
    assert parsed.data.language == "de-DE"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 (415) 555-0123", "+14155550123"),
        ("0049 151 2345 6789", "+4915123456789"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_normalisation_to_e164(raw, e164):
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["4155550123", "+1 12", "call me", "+999 1234567"])
def test_phone_that_cannot_be_normalised_is_an_error(raw):
    assert fields_of(event(customer={"phone": raw})) == ["data.customer.phone"]


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
@pytest.mark.parametrize("customer", [None, {}, {"phone": None}, {"phone": "  "}, {"email": "a@example.com"}])
def test_phone_is_required_for_sms_and_whatsapp(channel, customer):
    body = event(channel=channel)
    body["data"]["customer"] = customer
    assert fields_of(body) == ["data.customer.phone"]


def test_web_needs_no_phone():
    body = event(channel="web", customer={"email": "Priya.N@Example.COM"})
    parsed = parse_handoff_event(body)
    assert parsed.data.customer.phone is None
    assert parsed.data.customer.email == "Priya.N@example.com"


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", "x@example..com"])
def test_invalid_email_is_an_error_not_dropped(email):
    assert fields_of(event(customer={"phone": "+14155550123", "email": email})) == ["data.customer.email"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sessionId": ""}, "data.sessionId"),
        ({"sessionId": "   "}, "data.sessionId"),
        ({"sessionId": "s" * 129}, "data.sessionId"),
        ({"channel": "email"}, "data.channel"),
        ({"channel": None}, "data.channel"),
        ({"summary": ""}, "data.summary"),
        ({"summary": " \n "}, "data.summary"),
        ({"summary": "x" * 10_001}, "data.summary"),
        ({"transcript": [{"role": "customer"}]}, "data.transcript.0.text"),
        ({"metadata": ["not", "an", "object"]}, "data.metadata"),
    ],
)
def test_each_field_rule(overrides, field):
    assert fields_of(event(**overrides)) == [field]


def test_limits_are_inclusive():
    parsed = parse_handoff_event(event(sessionId="s" * 128, summary="y" * 10_000))
    assert len(parsed.data.summary) == 10_000


def test_every_failing_field_is_listed():
    body = event(sessionId="", channel="sms", summary="", customer={"phone": "nope", "email": "bad"})
    assert sorted(fields_of(body)) == sorted(
        ["data.sessionId", "data.summary", "data.customer.phone", "data.customer.email"]
    )


def test_missing_data_and_type():
    assert fields_of({"type": "handoff.requested"}) == ["data"]
    assert "type" in fields_of({"data": event()["data"]})


def test_unknown_fields_are_ignored_and_nulls_are_empty():
    body = event(transcript=None, metadata=None, surprise={"x": 1})
    body["extra"] = True
    parsed = parse_handoff_event(body)
    assert parsed.data.transcript == [] and parsed.data.metadata == {}


def test_errors_never_echo_the_input():
    with pytest.raises(HandoffInvalid) as caught:
        parse_handoff_event(event(customer={"phone": "+1 999", "email": "dana@@example.com"}))
    text = json.dumps([error.model_dump() for error in caught.value.errors])
    assert "dana" not in text and "999" not in text


def test_normalisation_is_stable():
    parsed = parse_handoff_event(json.loads((SAMPLES / "whatsapp-handoff.json").read_text())).data
    again = Handoff.model_validate_json(parsed.model_dump_json())
    assert again == parsed


def test_long_name_and_language_are_cut_not_refused():
    parsed = parse_handoff_event(
        event(language="x" * 80, customer={"phone": "+14155550123", "name": "n" * 500})
    )
    assert len(parsed.data.customer.name) == 200
    assert len(parsed.data.language) == 35


# --- properties (Hypothesis): nothing crashes, and normalisation is stable -------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from pydantic_core import PydanticCustomError  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
phones = st.one_of(
    st.text(max_size=25),
    st.from_regex(r"\+[1-9][0-9 ()-]{6,16}", fullmatch=True),
    st.sampled_from(["+14155550123", "0049 151 2345 6789", "+44 20 7946 0958", "+1 (202) 555-0143"]),
)
handoff_like = st.fixed_dictionaries(
    {
        "type": st.just("handoff.requested"),
        "data": st.fixed_dictionaries(
            {
                "sessionId": st.text(max_size=140),
                "channel": st.sampled_from(["sms", "whatsapp", "web", "email", ""]),
                "summary": st.text(max_size=300),
                "customer": st.fixed_dictionaries(
                    {"phone": st.none() | phones, "email": st.none() | st.emails() | st.text(max_size=20)}
                ),
            },
            optional={"transcript": json_values, "metadata": json_values, "language": json_values},
        ),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(handoff_like, st.dictionaries(st.text(max_size=8), json_values, max_size=5)))
def test_any_body_is_either_a_handoff_or_a_field_list(body):
    try:
        event = parse_handoff_event(body)
    except HandoffInvalid as invalid:
        assert invalid.errors and all(error.field for error in invalid.errors)
        return
    handoff = event.data
    assert Handoff.model_validate_json(handoff.model_dump_json()) == handoff
    if handoff.channel.needs_phone:
        assert handoff.customer.phone and handoff.customer.phone.startswith("+")


@settings(max_examples=400, deadline=None)
@given(phones)
def test_phone_normalisation_is_e164_and_idempotent(raw):
    try:
        e164 = normalise_phone(raw)
    except PydanticCustomError:
        return
    assert e164.startswith("+") and e164[1:].isdigit() and len(e164) <= 16
    assert normalise_phone(e164) == e164


def test_phone_that_would_renormalise_differently_is_refused():
    """Found by Hypothesis: '+310000000' loses a national '0' on each parse."""
    with pytest.raises(PydanticCustomError):
        normalise_phone("+310000000")
    assert normalise_phone("+31 20 123 4567") == "+31201234567"
