"""Parsing the OpenCX API's answers (docs/contract.md section 4) from the real sample shapes."""

from __future__ import annotations

import copy
import json

import pytest
from helpers import SAMPLES

from shared.opencx.session import customer_from, enrichment_from_session, next_cursor, transcript_lines

SESSION = json.loads((SAMPLES / "session-sms.json").read_text())
HISTORY = json.loads((SAMPLES / "history-sms.json").read_text())
EMAIL_SESSION = json.loads((SAMPLES / "session-email.json").read_text())


def test_sms_session_sample():
    enrichment = enrichment_from_session(SESSION)
    assert enrichment.channel == "sms" and enrichment.is_live_chat
    assert enrichment.customer.name == "Dana Reyes"
    assert enrichment.customer.phone == "+14155550123" and enrichment.customer.phoneNormalised
    assert enrichment.customer.email is None
    assert enrichment.summary.startswith("Customer wants to move delivery of order 1182")
    assert (enrichment.language, enrichment.sessionStatus) == ("en", "open")
    assert not enrichment.historyComplete and enrichment.transcript == []


def test_email_session_sample_is_not_a_live_chat():
    enrichment = enrichment_from_session(EMAIL_SESSION)
    assert enrichment.channel == "email" and not enrichment.is_live_chat
    assert enrichment.customer.email == "priya.n@example.com"


def test_only_message_events_become_lines_oldest_first():
    lines = transcript_lines(HISTORY)
    assert [(line.role, line.id) for line in lines] == [("customer", "m1"), ("ai", "m2"), ("customer", "m3")]
    assert lines[0].at == "2026-11-25T09:58:02.000Z"
    assert next_cursor(HISTORY) is None


def test_human_agent_and_blank_lines():
    page = copy.deepcopy(HISTORY)
    page["items"][0]["event"]["sender"]["type"] = "human_agent"
    page["items"][1]["event"]["content"]["text"] = "\u200b  "
    assert [line.role for line in transcript_lines(page)] == ["agent", "customer"]


@pytest.mark.parametrize(
    ("raw", "expected"), [("+1 (415) 555-0123", "+14155550123"), ("+44 20 7946 0321", "+442079460321")]
)
def test_phone_is_normalised_to_e164(raw, expected):
    customer, _ = customer_from({"phone_number": raw})
    assert (customer.phone, customer.phoneNormalised) == (expected, True)


@pytest.mark.parametrize("raw", ["ask for Bob", "(415) 555-0123"])  # no country code: no region to assume
def test_unnormalisable_phone_is_kept_as_text(raw):
    customer, _ = customer_from({"phone_number": raw})
    assert (customer.phone, customer.phoneNormalised) == (raw, False)


def test_invalid_email_is_dropped_and_flagged():
    customer, dropped = customer_from({"email": "not-an-email", "name": "X"})
    assert customer.email is None and dropped
    assert enrichment_from_session({**SESSION, "contact": {"email": "nope"}}).droppedEmail


def test_lenient_about_missing_and_odd_fields():
    enrichment = enrichment_from_session({"channel": None, "contact": None, "handoff": None, "extra": 1})
    assert enrichment.channel == "unknown"
    assert enrichment.customer.name is None and enrichment.summary is None
    assert enrichment_from_session({**SESSION, "channel": {"type": "WhatsApp"}}).channel == "whatsapp"


def test_next_cursor_reads_a_string_or_a_nested_object():
    assert next_cursor({"next": "abc"}) == "abc"
    assert next_cursor({"next": {"cursor": "abc"}}) == "abc"
    assert next_cursor({"next": ""}) is None


def test_history_files_keep_their_place_even_without_a_url_and_past_twenty() -> None:
    """A file OpenCX lists without a URL stays (told as a notice); past 20 one stand-in says how many."""
    from shared.media.refs import unusable
    from shared.opencx.session import transcript_lines

    media = [
        {"id": f"a{n}", "name": f"p{n}.jpg", "type": "image/jpeg", "url": f"https://x.example/{n}"}
        for n in range(22)
    ]
    media[0] = {"id": "a0", "name": "lost.jpg", "type": "image/jpeg"}
    page = {"items": [{"id": "h1", "created_at": "2026-01-01T00:00:00Z",
                       "event": {"type": "message", "sender": {"type": "contact"}, "content": {"text": ""},
                                 "attachments": media}}]}  # fmt: skip
    [line] = transcript_lines(page)
    assert len(line.attachments) == 21
    assert line.attachments[0].url is None and line.attachments[0].name == "lost.jpg"
    assert unusable(line.attachments[0]) is not None and unusable(line.attachments[1]) is None
    assert line.attachments[-1].name == "2 more files"
    assert line.shown.startswith("[photo: lost.jpg] [photo: p1.jpg]")
