"""Webhook activities: the shapes of Microsoft's webhook page samples, PascalCase, and what each means."""

from __future__ import annotations

import json

import pytest

from shared.messaging.activity import ActivityInvalid, ActivityKind, parse_activity

CHANNEL = "5f1f7f3c-98a4-4c63-9a0e-0a8f2b1e7c11"
CONVERSATION = "0b8e2a4f-6a8e-4d7c-9a54-37f3b0d2c1aa"


def sample(**fields: object) -> dict[str, object]:
    return {"channelId": CHANNEL, "conversation": {"id": CONVERSATION}, **fields}


def test_rep_message_from_the_docs_sample_is_relayed() -> None:
    body = sample(
        type="message", **{"from": {"id": "r1", "name": "Priya"}}, textFormat="markdown", text="hello"
    )
    activity = parse_activity(json.dumps(body).encode())
    assert activity.kind is ActivityKind.REP_MESSAGE
    assert (activity.text, activity.sender_name, activity.sender_id) == ("hello", "Priya", "r1")
    assert activity.conversation_id == CONVERSATION
    assert activity.text_format == "markdown"
    assert activity.event_name is None


def test_attachment_only_message_is_relayed() -> None:
    attachment = {
        "contentType": "image/jpeg",
        "contentUrl": "https://x/y.jpg",
        "content": None,
        "name": "a.jpg",
    }
    activity = parse_activity(sample(type="message", attachments=[attachment, "junk"]))
    assert activity.kind is ActivityKind.REP_MESSAGE
    assert [(a.content_type, a.content_url, a.name) for a in activity.attachments] == [
        ("image/jpeg", "https://x/y.jpg", "a.jpg")
    ]


def test_agent_accepted_sent_as_a_message_is_a_system_event_not_a_reply() -> None:
    activity = parse_activity(
        sample(type="message", text="EventName: **_AgentAccepted_**", name="AgentAccepted")
    )
    assert activity.kind is ActivityKind.SYSTEM_EVENT
    assert activity.event_name == "AgentAccepted"


def test_event_name_read_from_the_text_when_name_is_absent() -> None:
    activity = parse_activity(sample(type="message", text="EventName: **_AgentEndSession_**"))
    assert activity.event_name == "AgentEndSession"
    assert activity.kind is ActivityKind.END


@pytest.mark.parametrize(
    "name",
    [
        "AgentEndSession",
        "PrimaryAgentEndConversation",
        "ConversationClose",
        "SupervisorForceClosedConversation",
        "AgentClosed",
        "ConversationClosed",
        "conversationclosed",
    ],
)
def test_end_events_end_the_conversation(name: str) -> None:
    assert (
        parse_activity(sample(type="message", name=name, text=f"EventName: **_{name}_**")).kind
        is ActivityKind.END
    )
    assert parse_activity(sample(type="event", name=name)).kind is ActivityKind.END


@pytest.mark.parametrize(
    "name", ["AgentAssigned", "CustomerDisconnected", "TransferToAgentInitiated", "ConsultAgentEndSession"]
)
def test_other_events_are_ignored(name: str) -> None:
    assert parse_activity(sample(type="event", name=name)).kind is ActivityKind.SYSTEM_EVENT


def test_end_of_conversation_type_ends() -> None:
    assert parse_activity(sample(type="endOfConversation")).kind is ActivityKind.END


def test_typing_is_ignored_and_unknown_types_are_other() -> None:
    assert parse_activity({"type": "typing", "channelId": "MessagingApi"}).kind is ActivityKind.TYPING
    assert parse_activity(sample(type="message", text="   ")).kind is ActivityKind.OTHER
    assert parse_activity(sample(type="conversationUpdate")).kind is ActivityKind.OTHER
    assert parse_activity(sample(type="event")).kind is ActivityKind.SYSTEM_EVENT


def test_pascal_case_keys_at_every_level() -> None:
    body = {
        "Type": "message",
        "Id": 1756399395730,
        "ChannelId": CHANNEL,
        "From": {"Id": "r1", "Name": "Priya"},
        "Conversation": {"Id": CONVERSATION},
        "Text": "hi",
        "Attachments": [{"ContentType": "image/png", "ContentUrl": "u", "Name": "n"}],
    }
    activity = parse_activity(body)
    assert activity.kind is ActivityKind.REP_MESSAGE
    assert activity.id == "1756399395730"  # a numeric id is kept as text
    assert (activity.sender_name, activity.conversation_id, activity.channel_id) == (
        "Priya",
        CONVERSATION,
        CHANNEL,
    )
    assert activity.attachments[0].content_type == "image/png"


def test_wrong_field_types_are_dropped_not_fatal() -> None:
    activity = parse_activity(
        {"type": "message", "from": "nobody", "conversation": [1], "text": 5, "attachments": {}}
    )
    assert activity.from_ is None and activity.conversation_id is None
    assert activity.text == "5"
    assert activity.attachments == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", "null"])
def test_non_objects_are_invalid(body: bytes | str) -> None:
    with pytest.raises(ActivityInvalid):
        parse_activity(body)


def test_dedup_key_is_the_id_when_there_is_one() -> None:
    first = parse_activity(sample(type="message", id="m-1", text="a"))
    again = parse_activity(sample(type="message", id="m-1", text="a"))
    other = parse_activity(sample(type="message", id="m-2", text="a"))
    assert first.dedup_key == again.dedup_key == "id:m-1"
    assert other.dedup_key != first.dedup_key


def test_dedup_key_without_id_is_stable_across_key_order_and_case() -> None:
    body = sample(type="message", text="hello", **{"from": {"id": "r1", "name": "Priya"}})
    reordered = json.loads(json.dumps(dict(reversed(list(body.items())))))
    pascal = {key[:1].upper() + key[1:]: value for key, value in body.items()}
    keys = {parse_activity(b).dedup_key for b in (body, reordered, pascal)}
    assert len(keys) == 1
    assert keys.pop().startswith("sha256:")
    assert parse_activity(sample(type="message", text="hello!")).dedup_key not in keys


def test_a_body_cannot_choose_its_own_dedup_hash() -> None:
    one = parse_activity(sample(type="message", text="a", _canonical="x"))
    two = parse_activity(sample(type="message", text="b", _canonical="x"))
    assert one.dedup_key != two.dedup_key


def test_a_lone_surrogate_is_repaired_and_the_hash_is_stable() -> None:
    raw = json.dumps({"type": "message", "text": "x \ud800 y", "from": {"name": "R\udc00"}})
    first, again = parse_activity(raw), parse_activity(raw.encode())
    assert first.text == "x \ufffd y" and first.sender_name == "R\ufffd"
    assert first.dedup_key == again.dedup_key
    first.canonical.encode("utf-8")  # what is hashed and stored can be encoded


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 5000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        json.dumps({"x": [[[[[[[[[[[]]]]]]]]]]] * 1}).replace("[]", "[" * 60 + "]" * 60),
    ],
)
def test_deep_nesting_is_invalid_not_a_crash(raw: str) -> None:
    with pytest.raises(ActivityInvalid):
        parse_activity(raw)


def test_an_adaptive_card_depth_is_fine() -> None:
    card = json.loads('{"body": ' + '[{"items": ' * 20 + "[]" + "}]" * 20 + "}")
    activity = parse_activity(
        {"type": "message", "text": "card", "attachments": [{"contentType": "x", "content": card}]}
    )
    assert activity.kind is ActivityKind.REP_MESSAGE


def test_what_one_row_cannot_hold_is_cut_and_counted() -> None:
    from shared.messaging.activity import MAX_ATTACHMENTS, MAX_FIELD_CHARS, MAX_TEXT_CHARS

    many = [{"contentType": "image/png", "contentUrl": f"https://x/{n}", "name": "n"} for n in range(100)]
    activity = parse_activity({"type": "message", "text": "a" * (MAX_TEXT_CHARS + 5), "attachments": many,
                               "from": {"id": "i" * 5000, "name": "n" * 5000}})  # fmt: skip
    assert activity.text == "a" * MAX_TEXT_CHARS and activity.text_cut == 5
    assert (
        len(activity.attachments) == MAX_ATTACHMENTS and activity.attachments_dropped == 100 - MAX_ATTACHMENTS
    )
    assert len(activity.sender_id or "") == len(activity.sender_name or "") == MAX_FIELD_CHARS
    small = parse_activity({"type": "message", "text": "short", "_text_cut": 9, "_attachments_dropped": 3})
    assert (small.text_cut, small.attachments_dropped) == (0, 0)  # never taken from the body


# ---------------------------------------------------------------------------- files (media_ref)


def test_a_url_attachment_becomes_a_file_by_url() -> None:
    from shared.messaging.activity import media_ref

    item = {"contentType": "image/jpeg", "contentUrl": "https://x.example/p.jpg", "name": "issue (1).jpg",
            "content": None, "thumbnailUrl": None}  # fmt: skip
    ref = media_ref(item)
    assert ref is not None
    assert (ref.name, ref.url, ref.content_type, ref.inline) == (
        "issue (1).jpg", "https://x.example/p.jpg", "image/jpeg", None,
    )  # fmt: skip


def test_embedded_base64_becomes_an_inline_file_with_its_type() -> None:
    from shared.messaging.activity import media_ref

    ref = media_ref({"contenturl": "data:application/pdf;base64,JVBERi0xLjQ=", "name": "form.pdf"})
    assert ref is not None
    assert (ref.inline, ref.content_type, ref.url) == ("JVBERi0xLjQ=", "application/pdf", None)


@pytest.mark.parametrize("item", [{}, {"name": "x.pdf"}, {"contentUrl": "  "}, {"contentUrl": 7}])
def test_an_attachment_without_content_is_not_a_file(item: dict[str, object]) -> None:
    from shared.messaging.activity import media_ref

    assert media_ref(item) is None
