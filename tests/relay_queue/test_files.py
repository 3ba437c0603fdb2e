"""Pictures and files across the relay (issue 19), the whole bridge in process: the rep's files reach
the customer's OpenCX session in OpenCX's documented fields (by URL when open, by base64 when the URL
needs a token), the customer's photos reach the rep as message attachments, and every file that may
not cross reaches the other side as a short text, nothing fetched from a host not allowed, no 5xx."""

from __future__ import annotations

import base64
import hashlib
import json

from messaging_helpers import MessagingBridge, messaging_bridge_fixture, wait_for  # noqa: F401

from devtools.opencx_sim import SMS_SESSION_ID
from shared.messaging.outbox import Direction

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64  # ~16 KB
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 200  # ~51 KB


def _sent(bridge: MessagingBridge, session_id: str, count: int = 1) -> list:
    wait_for(
        lambda: len(bridge.opencx.sent_to(session_id)) >= count, 20, f"{count} message(s) to the customer"
    )
    return bridge.opencx.sent_to(session_id)


def _settled(bridge: MessagingBridge, conversation_id: str, direction: Direction) -> None:
    wait_for(lambda: not bridge.deps.outbox.pending(conversation_id, direction), 30, "nothing pending")


def _quiet(bridge: MessagingBridge) -> str:
    bridge.sim.rep.greeting = None
    bridge.sim.rep.auto_reply = False
    return bridge.handoff(SMS_SESSION_ID)


# ---------------------------------------------------------------------------- rep -> customer


def test_a_reps_open_pdf_reaches_the_customer_by_url_in_opencx_fields(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    conversation_id = _quiet(bridge)
    _, url = bridge.sim.rep.send_file(conversation_id, PDF, "application/pdf", "return-label.pdf",
                                      text="Your return label", open_url=True)  # fmt: skip
    [sent] = _sent(bridge, SMS_SESSION_ID)
    assert sent.body["message"]["text"] == "Your return label"
    assert sent.body["message"]["attachments"] == [
        {"name": "return-label.pdf", "url": url, "mime_type": "application/pdf"}
    ]
    assert bridge.sim.files.file(url).statuses == [200]  # checked once, no token sent


def test_a_reps_pdf_behind_a_token_reaches_the_customer_as_base64(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    conversation_id = _quiet(bridge)
    _, url = bridge.sim.rep.send_file(conversation_id, PDF, "application/pdf", "form.pdf")
    [sent] = _sent(bridge, SMS_SESSION_ID)
    [attachment] = sent.body["message"]["attachments"]
    assert set(attachment) == {"name", "base64", "mime_type"}
    assert (attachment["name"], attachment["mime_type"]) == ("form.pdf", "application/pdf")
    assert base64.b64decode(attachment["base64"]) == PDF
    assert bridge.sim.files.file(url).statuses == [401, 200]  # plain first, then the API token
    assert "url" not in attachment  # the customer's side could not open it


def test_a_file_too_big_for_mms_reaches_the_customer_as_a_text(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    conversation_id = _quiet(bridge)
    six_mb = bytes(6 * 1024 * 1024)
    bridge.sim.rep.send_file(conversation_id, six_mb, "image/jpeg", "scan.jpg", text="Here it is")
    [sent] = _sent(bridge, SMS_SESSION_ID)
    assert sent.body["message"]["text"] == "Here it is\n[photo not forwarded: 6 MB, the limit is 5 MB]"
    assert "attachments" not in sent.body["message"]
    # The link's counts are written after the send's answer: wait for them, not for the message.
    wait_for(lambda: bridge.deps.links.by_conversation(conversation_id).files_refused == 1, 20, "the count")
    assert bridge.deps.links.by_conversation(conversation_id).last_file_refusal == "too_big"


def test_each_unsafe_file_is_refused_with_a_text_and_nothing_is_lost(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    conversation_id = _quiet(bridge)
    elsewhere = "http://localhost:1/never.jpg"  # loopback, but no setting names it
    rep = bridge.sim.rep
    rep.send_file(
        conversation_id,
        b"MZ" * 100,
        "image/png",
        "a.png",
        open_url=True,
        served_type="application/x-msdownload",
    )
    rep.send_file(conversation_id, PHOTO, "image/jpeg", "b.jpg", open_url=True, redirect_to=elsewhere)
    rep.send_file(
        conversation_id, PHOTO, "image/jpeg", "c.jpg", open_url=True, grow_past=5 * 1024 * 1024 + 10
    )
    rep.say(conversation_id, "last words", [{"contentType": "image/jpeg", "contentUrl": "http://files.example.com/d.jpg",
                                             "name": "d.jpg"}])  # fmt: skip
    sent = _sent(bridge, SMS_SESSION_ID, 4)
    texts = [message.body["message"]["text"] for message in sent]
    assert texts == [
        "[photo not forwarded: application/x-msdownload is not a type the bridge passes on]",
        "[photo not forwarded: it moved to a host that is not allowed]",
        "[photo not forwarded: larger than the 5 MB limit]",
        "last words\n[photo not forwarded: its link is not https]",
    ]
    assert all("attachments" not in message.body["message"] for message in sent)
    wait_for(lambda: bridge.deps.links.by_conversation(conversation_id).files_refused == 4, 20, "the count")
    assert all(delivery.statuses[-1] == 200 for delivery in bridge.sim.rep.deliveries)  # no 5xx


# ---------------------------------------------------------------------------- customer -> rep


def _received(bridge: MessagingBridge, conversation_id: str, count: int = 1) -> list:
    wait_for(
        lambda: len(bridge.sim.received_attachments(conversation_id)) >= count, 20, "the rep's attachment"
    )
    return bridge.sim.received_attachments(conversation_id)


def test_a_customers_photo_reaches_the_rep_as_a_message_attachment(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    conversation_id = _quiet(bridge)
    event = bridge.opencx.customer_reply(SMS_SESSION_ID, "", files=[("parcel.jpg", "image/jpeg", PHOTO)])
    assert bridge.post_event(event).status_code == 202
    [received] = _received(bridge, conversation_id)
    assert (received.name, received.content_type, received.inline) == ("parcel.jpg", "image/jpeg", True)
    assert received.sha256 == hashlib.sha256(PHOTO).hexdigest()
    wait_for(lambda: bridge.deps.links.by_conversation(conversation_id).files_to_rep == 1, 20, "the count")


def test_a_captioned_photo_reaches_the_rep_as_one_message_with_its_words(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    conversation_id = _quiet(bridge)
    event = bridge.opencx.customer_reply(
        SMS_SESSION_ID, "The box is crushed", files=[("box.jpg", "image/jpeg", PHOTO)]
    )
    assert "attachments" not in json.dumps(event)  # the event documents none: the history shows it
    assert bridge.post_event(event).status_code == 202
    assert [a.name for a in _received(bridge, conversation_id)] == ["box.jpg"]
    _settled(bridge, conversation_id, Direction.TO_REP)
    conversation = bridge.sim.store.get(conversation_id)
    said = [m for m in conversation.customer_messages() if m.get("attachments")]
    assert len(said) == 1 and said[0].get("text") == "The box is crushed"
    # A later text-less event reads the history again: the photo is not sent twice.
    later = bridge.opencx.customer_reply(SMS_SESSION_ID, "", files=[("second.jpg", "image/jpeg", PHOTO)])
    assert bridge.post_event(later).status_code == 202
    names = [a.name for a in _received(bridge, conversation_id, 2)]
    _settled(bridge, conversation_id, Direction.TO_REP)
    assert (
        [a.name for a in bridge.sim.received_attachments(conversation_id)]
        == names
        == ["box.jpg", "second.jpg"]
    )


def test_a_customers_file_of_a_refused_type_reaches_the_rep_as_a_text(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    conversation_id = _quiet(bridge)
    event = bridge.opencx.customer_reply(SMS_SESSION_ID, "",
                                         files=[("tool.exe", "application/x-msdownload", b"MZ")])  # fmt: skip
    assert bridge.post_event(event).status_code == 202
    wait_for(lambda: any("not forwarded" in str(m.get("text")) for m in bridge.sim.store.get(conversation_id).customer_messages()),
             20, "the text instead of the file")  # fmt: skip
    assert bridge.sim.received_attachments(conversation_id) == []
