import json

from helpers import SAMPLES

from shared.dynamics.contact import ContactMatch, Linkage
from shared.dynamics.work_item import (
    CONTACT_BIND,
    CONTEXT_ITEMS_NAV,
    WORKSTREAM_BIND,
    description,
    work_item_id,
    work_item_payload,
)
from shared.opencx.webhook import Handoff

WS = "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"
UNLINKED = ContactMatch(None, Linkage.NONE, "no_match")


def handoff(name="sms-handoff.json", **overrides):
    data = json.loads((SAMPLES / name).read_text())["data"] | overrides
    return Handoff.model_validate(data)


def test_activityid_is_deterministic_per_handoff():
    assert work_item_id("msg_1") == work_item_id("msg_1")
    assert work_item_id("msg_1") != work_item_id("msg_2")
    # pinned: a change of namespace would break idempotency across deployments
    import uuid

    assert work_item_id("msg_1") == str(
        uuid.uuid5(uuid.UUID("3c8f9a52-6b1e-4d0f-9a7e-2f4d1c0b7e11"), "msg_1")
    )


def test_sms_payload_fields():
    payload = work_item_payload("msg_1", handoff(), WS, ContactMatch("c-1", Linkage.PHONE, "matched_phone"))
    assert payload["activityid"] == payload["msdyn_ocliveworkitemid"] == work_item_id("msg_1")
    assert payload["subject"].startswith("Customer wants to move delivery of order 1182")
    assert payload["msdyn_channel"] == "192340000"
    assert payload[WORKSTREAM_BIND] == f"/msdyn_liveworkstreams({WS})"
    assert payload[CONTACT_BIND] == "/contacts(c-1)"
    context = {item["msdyn_name"]: item["msdyn_value"] for item in payload[CONTEXT_ITEMS_NAV]}
    assert context == {
        "sessionId": "ses_01JDX4SMS7Q2",
        "channel": "sms",
        "customerPhone": "+14155550123",
        "customerName": "Dana Reyes",
        "language": "en-US",
    }
    assert all(item["msdyn_isdisplayable"] is True for item in payload[CONTEXT_ITEMS_NAV])


def test_channel_option_values():
    assert (
        work_item_payload("a", handoff("whatsapp-handoff.json"), WS, UNLINKED)["msdyn_channel"] == "192300000"
    )
    web = work_item_payload("b", handoff("web-handoff.json"), WS, UNLINKED)
    assert web["msdyn_channel"] == "192360000"
    assert CONTACT_BIND not in web
    names = [item["msdyn_name"] for item in web[CONTEXT_ITEMS_NAV]]
    assert names == ["sessionId", "channel", "customerEmail", "customerName"]


def test_subject_is_cut_to_200_and_description_to_2000():
    long = handoff(summary="word " * 2000, transcript=[{"role": "customer", "text": "t" * 500}] * 20)
    payload = work_item_payload("c", long, WS, UNLINKED)
    assert len(payload["subject"]) == 200
    assert len(payload["description"]) <= 2000


def test_description_leads_with_summary_then_customer_then_transcript_tail():
    text = description(handoff())
    assert text.startswith("Customer wants to move delivery")
    assert "Phone: +14155550123" in text
    assert text.index("Phone:") < text.index("Transcript (latest):")
    assert text.rstrip().endswith("Sure, connecting you to a member of our team now.")


def test_description_keeps_the_newest_lines_when_space_runs_out():
    lines = [{"role": "customer", "text": f"line {i} " + "x" * 150} for i in range(30)]
    text = description(handoff(transcript=lines))
    assert len(text) <= 2000
    assert "line 29 " in text and "line 0 " not in text


def test_limits_are_counted_in_utf16_units_like_dataverse():
    from shared.dynamics.work_item import utf16_length

    emoji = handoff(summary="😠" * 300, transcript=[{"role": "customer", "text": "🙂" * 3000}])
    payload = work_item_payload("e", emoji, WS, UNLINKED)
    assert utf16_length(payload["subject"]) <= 200
    assert utf16_length(payload["description"]) <= 2000
    assert payload["subject"].endswith("…") and "\ud83d" not in payload["subject"]
