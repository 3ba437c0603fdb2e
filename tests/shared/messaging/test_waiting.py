"""The customer's wait in mode messaging: one message per waiting event, place-in-line updates only
when they improved by a meaningful step (at most three, none after the rep accepts), every text
one SMS segment. Against Azurite and the Dataverse and OpenCX simulators over HTTP, with the
relay's own dependency set and a clock the test moves."""

from __future__ import annotations

import uuid

import pytest

from devtools.opencx_sim import SMS_SESSION_ID
from shared.messaging import waiting
from shared.messaging.deps import RelayDeps
from shared.messaging.waiting import MAX_POSITION_UPDATES, meaningful_step
from shared.platform.settings import get_settings
from shared.platform.sms import fits_one_segment


@pytest.fixture
def relay(dataverse, opencx, bridge_env, monkeypatch, clock):
    """Mode messaging's relay set with the concierge on (the Dataverse simulator answers availability)."""
    from helpers import reset_process_caches

    suffix = uuid.uuid4().hex[:10]
    for key, value in {"CONCIERGE": "true", "CONCIERGE_TIME_ZONE": "America/New_York",
                       "CONCIERGE_REFRESH_SECONDS": "120", "MESSAGING_TABLE": f"relay{suffix}",
                       "MESSAGING_QUEUE": f"relay-{suffix}"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    reset_process_caches()
    deps = RelayDeps.build(get_settings(), clock=clock)
    yield deps
    deps.close(5)


def _conversation(deps, dataverse, position: int | None = None, language: str = "en") -> str:
    conversation = str(uuid.uuid4())
    context = {"customercontext": {"customerid": SMS_SESSION_ID},
               "conversationcontext": {"language": {"isDisplayable": True, "value": language}}}  # fmt: skip
    deps.links.record(SMS_SESSION_ID, conversation, "h-1", "sms", now=deps.clock(), context=context)
    if position is not None:
        dataverse.availability.configure({"enabled": True, "positions": {conversation: position}})
    return conversation


def _notices(opencx) -> list[str]:
    return [
        m.text or ""
        for m in opencx.sent_to(SMS_SESSION_ID)
        if (m.agent or {}).get("name") == "Automated message"
    ]


def test_an_out_of_hours_event_becomes_one_message_with_the_opening_time(relay, dataverse, opencx) -> None:
    deps = relay
    dataverse.availability.configure({"enabled": True, "time_zone": "America/New_York",
                                      "hours": {"mon": ["09:00", "17:00"]}, "now": "2026-12-06T03:00:00Z"})  # fmt: skip
    conversation = _conversation(deps, dataverse, position=4)
    link = deps.links.by_conversation(conversation)
    assert waiting.on_event(deps, "OutOfOperatingHoursDueToNonWorkingHours", link) == "sent"
    assert waiting.on_event(deps, "OutOfOperatingHoursDueToNonWorkingHours", link) == "already"  # redelivered
    [text] = _notices(opencx)
    assert "back at 9:00 AM Mon" in text and fits_one_segment(text)
    [sent] = opencx.sent_to(SMS_SESSION_ID)
    assert sent.body["custom_data"] == {"dynamics365_chat_id": conversation}  # written back once


def test_a_transfer_failure_in_spanish_fits_one_ucs2_segment(relay, dataverse, opencx) -> None:
    deps = relay
    conversation = _conversation(deps, dataverse, language="es-MX")
    link = deps.links.by_conversation(conversation)
    assert waiting.on_event(deps, "TransferToQueueFailed", link) == "sent"
    [text] = _notices(opencx)
    assert text.startswith("No pudimos") and len(text) <= 70 and fits_one_segment(text)


def test_nothing_is_said_once_a_rep_accepted(relay, dataverse, opencx) -> None:
    deps = relay
    conversation = _conversation(deps, dataverse, position=5)
    assert waiting.on_event(deps, "AgentAccepted", deps.links.by_conversation(conversation)) == "accepted"
    link = deps.links.by_conversation(conversation)
    assert link.accepted_at is not None
    assert waiting.on_event(deps, "OutOfOperatingHoursDueToHoliday", link) == "ignored"
    deps.clock.advance(600)
    assert waiting.refresh(deps, link) == "not_waiting"
    assert _notices(opencx) == []


def test_position_updates_only_for_meaningful_improvements_and_at_most_three(
    relay, dataverse, opencx
) -> None:
    deps = relay
    conversation = _conversation(deps, dataverse, position=20)

    def step(position: int) -> str:
        dataverse.availability.configure({"positions": {conversation: position}})
        deps.clock.advance(121)
        return waiting.refresh(deps, deps.links.by_conversation(conversation))

    assert waiting.refresh(deps, deps.links.by_conversation(conversation)) == "not_due"
    assert step(20) == "baseline"  # no promise from the first figure
    assert step(19) == "no_news"  # one place is not worth a text
    assert step(14) == "told"  # 20 -> 14: six places, more than a quarter
    assert step(14) == "no_news"
    assert step(10) == "told"
    assert step(1) == "told"  # next in line
    assert step(1) == "not_waiting"  # three updates at most
    texts = _notices(opencx)
    assert len(texts) == MAX_POSITION_UPDATES and "number 14" in texts[0] and "number 1 " in texts[2]
    assert all(fits_one_segment(text) for text in texts)


def test_an_unknown_place_in_line_says_nothing(relay, dataverse, opencx) -> None:
    deps = relay
    conversation = _conversation(deps, dataverse)
    dataverse.availability.configure({"enabled": False})  # 405: the role or the feature is missing
    deps.clock.advance(121)
    assert waiting.refresh(deps, deps.links.by_conversation(conversation)) == "unknown"
    assert _notices(opencx) == []


@pytest.mark.parametrize(
    ("told", "now", "worth"),
    [
        (20, 19, False),
        (20, 15, True),
        (20, 16, False),
        (4, 2, True),
        (4, 3, False),
        (3, 1, True),
        (5, 6, False),
    ],
)
def test_a_meaningful_step(told: int, now: int, worth: bool) -> None:
    assert meaningful_step(told, now) is worth
