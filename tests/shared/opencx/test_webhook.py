"""parse_event and derive_handoff_id against docs/contract.md section 2."""

from __future__ import annotations

import json

import pytest
from helpers import SAMPLES, sample_event

from shared.opencx.events import HANDOFF_TO_HUMAN as HANDOFF_EVENT
from shared.opencx.webhook import (
    SUMMARY_MAX,
    EventInvalid,
    derive_handoff_id,
    parse_event,
    read_envelope,
)

# Pinned by hand from the formula: sha256("org_8f1c\n6f1d0c2e-2b8a-4a53-9a51-0c6f3f0e7b21\n
# conversation.handoff_to_human\n2026-11-25T09:59:42.118Z"), first 32 hex digits, computed once with
# `printf 'org_8f1c\n6f1d...\nconversation.handoff_to_human\n2026-11-25T09:59:42.118Z' | sha256sum`.
DESIGN_EXAMPLE = {
    "event": "conversation.handoff_to_human",
    "organization_id": "org_8f1c",
    "data": {
        "conversation_id": "6f1d0c2e-2b8a-4a53-9a51-0c6f3f0e7b21",
        "timestamp": "2026-11-25T09:59:42.118Z",
        "summary": "Customer wants to move delivery of order 1182 to Friday.",
    },
}
DESIGN_EXAMPLE_ID = "ocx_546f90cb0feab6d9419513bfbb71b79a"
# The same without organization_id: the first line is empty ("\n6f1d...").
NO_ORG_ID = "ocx_486471eb3ad19b03e5575f2f8837e6ad"


def fields_of(body: dict) -> list[str]:
    with pytest.raises(EventInvalid) as caught:
        parse_event(body)
    return sorted(error.field for error in caught.value.errors)


@pytest.mark.parametrize("name", ["handoff-sms.json", "handoff-email-array.json"])
def test_real_samples_parse(name):
    body = json.loads((SAMPLES / name).read_text())
    event = parse_event(body)
    data = body["data"][0] if isinstance(body["data"], list) else body["data"]
    assert event.event == HANDOFF_EVENT
    assert event.conversation_id == data["conversation_id"]
    assert event.timestamp == data["timestamp"]
    assert event.organization_id == body["organization_id"]
    assert event.summary == data["summary"]
    assert event.customer_id == data["customer_id"]
    assert event.message_count == data["message_count"]


def test_handoff_id_is_pinned_to_the_contract_formula():
    assert derive_handoff_id(parse_event(DESIGN_EXAMPLE)) == DESIGN_EXAMPLE_ID


def test_handoff_id_without_organization_uses_the_empty_string():
    body = {key: value for key, value in DESIGN_EXAMPLE.items() if key != "organization_id"}
    assert derive_handoff_id(parse_event(body)) == NO_ORG_ID


def test_handoff_id_is_the_same_for_both_data_forms_and_ignores_the_summary():
    as_array = DESIGN_EXAMPLE | {"data": [DESIGN_EXAMPLE["data"] | {"summary": "other"}]}
    assert derive_handoff_id(parse_event(as_array)) == DESIGN_EXAMPLE_ID


@pytest.mark.parametrize(
    "change",
    [
        {"organization_id": "org_other"},
        {"event": "conversation.handoff_to_human "},  # stripped: same event
    ],
)
def test_handoff_id_follows_the_envelope(change):
    changed = derive_handoff_id(parse_event(DESIGN_EXAMPLE | change))
    if change.get("event", "").strip() == HANDOFF_EVENT:
        assert changed == DESIGN_EXAMPLE_ID
    else:
        assert changed != DESIGN_EXAMPLE_ID


@pytest.mark.parametrize(
    "data_change", [{"conversation_id": "other"}, {"timestamp": "2026-11-25T09:59:43.118Z"}]
)
def test_handoff_id_follows_conversation_and_timestamp(data_change):
    body = DESIGN_EXAMPLE | {"data": DESIGN_EXAMPLE["data"] | data_change}
    assert derive_handoff_id(parse_event(body)).startswith("ocx_")
    assert derive_handoff_id(parse_event(body)) != DESIGN_EXAMPLE_ID


def test_timestamp_keeps_the_senders_text():
    assert parse_event(sample_event(timestamp="2026-11-25T09:59:42.118+00:00")).timestamp == (
        "2026-11-25T09:59:42.118+00:00"
    )


def test_optional_fields_are_optional_and_unknown_fields_ignored():
    event = parse_event(
        {
            "event": HANDOFF_EVENT,
            "data": {"conversation_id": "c1", "timestamp": "2026-11-25T10:00:00Z", "new_thing": [1, 2]},
        }
    )
    assert event.organization_id is None and event.summary is None and event.reason is None


@pytest.mark.parametrize(("count", "parsed"), [(7, 7), ("7", 7), (-1, None), ("many", None), (None, None)])
def test_message_count_is_carried_never_refused(count, parsed):
    assert parse_event(sample_event(message_count=count)).message_count == parsed


def test_long_summary_is_cut_and_marked():
    event = parse_event(sample_event(summary="a" * (SUMMARY_MAX + 1)))
    assert event.summary == "a" * SUMMARY_MAX and event.summaryTruncated is True


@pytest.mark.parametrize("summary", ["", "   ", "\u200b", "\u200b\ufeff\u2060", None])
def test_blank_summary_is_none(summary):
    assert parse_event(sample_event(summary=summary)).summary is None


@pytest.mark.parametrize(
    ("data_change", "failing"),
    [
        ({"conversation_id": ""}, ["data.conversation_id"]),
        ({"conversation_id": "\u200b\u200c"}, ["data.conversation_id"]),
        ({"conversation_id": "a\nb"}, ["data.conversation_id"]),
        ({"conversation_id": "a\x7fb"}, ["data.conversation_id"]),
        ({"conversation_id": "a/b"}, ["data.conversation_id"]),
        ({"conversation_id": "c" * 129}, ["data.conversation_id"]),
        ({"conversation_id": 12}, ["data.conversation_id"]),
        ({"timestamp": "2026-11-25T10:00:00"}, ["data.timestamp"]),
        ({"timestamp": "soon"}, ["data.timestamp"]),
        ({"timestamp": 1764064800}, ["data.timestamp"]),
        ({"summary": ["x"]}, ["data.summary"]),
        (
            {"conversation_id": "", "timestamp": "x", "summary": 1},
            ["data.conversation_id", "data.summary", "data.timestamp"],
        ),
    ],
)
def test_invalid_data_lists_every_field(data_change, failing):
    assert fields_of(sample_event(**data_change)) == failing


def test_missing_required_fields_are_named():
    body = sample_event()
    del body["data"]["conversation_id"], body["data"]["timestamp"]
    assert fields_of(body) == ["data.conversation_id", "data.timestamp"]


def test_array_errors_are_named_by_position():
    body = sample_event(conversation_id="")
    body["data"] = [body["data"]]
    assert fields_of(body) == ["data.0.conversation_id"]


@pytest.mark.parametrize("data", [None, "x", [], [{}, {}], 3])
def test_data_that_is_not_an_object_or_one_element_array(data):
    assert fields_of({"event": HANDOFF_EVENT, "data": data}) == ["data"]


@pytest.mark.parametrize("body", [[], "x", None])
def test_envelope_must_be_an_object(body):
    with pytest.raises(EventInvalid) as caught:
        read_envelope(body)
    assert [error.field for error in caught.value.errors] == ["(body)"]


@pytest.mark.parametrize("event", [None, "", "  ", 5])
def test_envelope_needs_an_event(event):
    with pytest.raises(EventInvalid) as caught:
        read_envelope({"event": event, "data": {}})
    assert [error.field for error in caught.value.errors] == ["event"]


def test_envelope_reads_event_and_organization():
    assert read_envelope({"event": " conversation.closed ", "organization_id": " org_1 ", "data": 1}) == (
        "conversation.closed",
        "org_1",
        1,
    )


def test_errors_never_carry_the_value():
    secret_looking = "dana.reyes@example.com/+14155550123"
    with pytest.raises(EventInvalid) as caught:
        parse_event(sample_event(conversation_id=secret_looking, timestamp="+14155550123"))
    text = repr(caught.value.errors) + str(caught.value)
    assert "dana.reyes" not in text and "4155550123" not in text


def test_nesting_too_deep_is_an_event_error():
    nested: object = []
    for _ in range(40):
        nested = [nested]
    assert fields_of(sample_event(extra=nested)) == ["(body)"]
