"""Request bodies: create (customer context, context entries, start message), activities, OpenCX send."""

from __future__ import annotations

import pytest

from shared.messaging.bodies import (
    MAX_CONTEXT_ENTRIES,
    MAX_CONTEXT_VALUE_CHARS,
    MAX_START_MESSAGE_BYTES,
    TRANSCRIPT_SEPARATOR,
    build_conversation_context,
    build_create_body,
    build_end_activity,
    build_message_activity,
    build_start_message,
    build_typing_activity,
)
from shared.opencx.send import build_agent_message


def test_create_body_has_the_documented_shape() -> None:
    body = build_create_body(
        "conv-1",
        first_name="Dana",
        last_name="Reyes",
        preferred_name="Dana Reyes",
        email="dana@example.com",
        phone="+14155550123",
        context={"sessionId": "conv-1", "channel": "sms", "internal": ("x", False)},
        request_id="handoff-9",
        start_message="Summary",
        start_display_name="OpenCX",
    )
    assert body == {
        "customercontext": {
            "customerid": "conv-1",
            "firstname": "Dana",
            "lastname": "Reyes",
            "preferredname": "Dana Reyes",
            "email": "dana@example.com",
            "phonenumber": "+14155550123",
        },
        "conversationcontext": {
            "sessionId": {"isDisplayable": True, "value": "conv-1"},
            "channel": {"isDisplayable": True, "value": "sms"},
            "internal": {"isDisplayable": False, "value": "x"},
        },
        "conversationrequestid": "handoff-9",
        "startmessage": {"message": "Summary", "displayname": "OpenCX"},
        "skipdeflectionbot": True,
    }


def test_create_body_limits() -> None:
    body = build_create_body("c", first_name="F" * 300, email="e" * 195 + "@x.com", phone="  ")
    assert len(body["customercontext"]["firstname"]) == 200
    assert "email" not in body["customercontext"]  # clipped addresses would match the wrong contact
    assert "phonenumber" not in body["customercontext"]
    assert "conversationcontext" not in body and "startmessage" not in body
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(ValueError):
            build_create_body(bad)


def test_context_keeps_the_first_100_non_empty_entries_in_order() -> None:
    items = {"empty": "", "none": None, **{f"k{i:03}": i for i in range(150)}}
    context = build_conversation_context(items)
    assert len(context) == MAX_CONTEXT_ENTRIES
    assert list(context)[:2] == ["k000", "k001"] and "k099" in context and "k100" not in context
    long = build_conversation_context({"long": "y" * 5000, "obj": {"a": 1}, "flag": False})
    assert len(long["long"]["value"]) == MAX_CONTEXT_VALUE_CHARS
    assert long["obj"]["value"] == '{"a": 1}'
    assert long["flag"]["value"] is False


def test_start_message_keeps_the_summary_and_the_transcript_tail() -> None:
    lines = [f"line {i:05} " + "x" * 90 for i in range(1000)]
    message = build_start_message("The summary", lines)
    assert message.startswith("The summary" + TRANSCRIPT_SEPARATOR)
    assert message.endswith(lines[-1])
    assert len(message.encode()) <= MAX_START_MESSAGE_BYTES
    assert lines[0] not in message
    assert build_start_message(None, ["only"]) == "only"
    assert build_start_message("s", []) == "s"


def test_a_huge_start_message_is_clipped_to_27kb_on_a_character_boundary() -> None:
    body = build_create_body("c", start_message="é" * 20000)
    message = body["startmessage"]["message"]
    assert len(message.encode()) <= MAX_START_MESSAGE_BYTES
    assert set(message) == {"é"}


def test_activities() -> None:
    message = build_message_activity(
        "conv", "chan", text="hi", sender_id="u1", sender_name="Dana", activity_id="m1"
    )
    assert message == {
        "type": "message",
        "channelId": "chan",
        "id": "m1",
        "from": {"id": "u1", "name": "Dana"},
        "conversation": {"id": "conv"},
        "text": "hi",
    }
    attachment = {"contentType": "image/png", "contentUrl": "https://x", "name": "a.png"}
    only_file = build_message_activity("conv", "chan", attachments=[attachment])
    assert "text" not in only_file and only_file["attachments"] == [attachment]
    with pytest.raises(ValueError):
        build_message_activity("conv", "chan", text="x" * 6001)
    with pytest.raises(ValueError):
        build_message_activity("conv", "chan", text="  ")
    assert build_end_activity("conv", "chan") == {
        "type": "endOfConversation",
        "channelId": "chan",
        "conversation": {"id": "conv"},
    }
    assert build_typing_activity("conv", "chan", "Dana")["from"] == {"name": "Dana"}


def test_opencx_agent_message() -> None:
    body = build_agent_message("Hello there", "Priya N.")
    assert body == {
        "sender": "agent",
        "message": {"type": "text", "text": "Hello there"},
        "agent": {"name": "Priya N."},
        "should_take_over_session_from_ai": True,
    }
    configured = build_agent_message("Hi", None, "human_agent", rep_id="r1")
    assert configured["sender"] == "human_agent" and configured["agent"] == {"id": "r1"}
    files = build_agent_message(None, "P", attachments=[{"url": "https://x", "name": "a.png"}])
    assert files["message"]["attachments"] == [{"url": "https://x", "name": "a.png"}]
    with pytest.raises(ValueError):
        build_agent_message("  ", "P")
