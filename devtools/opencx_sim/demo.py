"""Demo sessions with stable ids, one per linkage story the Dataverse simulator's demo contacts tell.

- sms:         Dana Reyes, +14155550123: the real samples session-sms.json and history-sms.json
               (Dataverse demo: Dana's mobilephone, so linked by phone).
- whatsapp:    Jonas Mueller, +4915123456789, jonas.mueller@example.de: that email is no contact's, and
               the phone is the landline two demo contacts share, so the link is ambiguous.
- web:         Priya N, priya.n@example.com, no phone: linked by email.
- email:       the real sample session-email.json (a billing dispute): an incident.
- phone_voice: a caller known only by phone (+442079460321, in no demo contact): an incident.

The data is copied from OpenCX's real sample shapes (as in samples/opencx/) into this file: nothing is read at run time.
"""

from __future__ import annotations

import copy
from typing import Any

from devtools.opencx_sim import events
from devtools.opencx_sim.contract import history_item, new_session

# opencx_sim.simulator.OpenCXSimulator: that module imports this one, so it is not imported here.
OpenCXSimulator = Any

SMS_SESSION_ID = "6f1d0c2e-2b8a-4a53-9a51-0c6f3f0e7b21"  # = the real sample's
WHATSAPP_SESSION_ID = "3c1e7f2a-5b9d-4e61-a8c4-7d2f0b9e6a13"
WEB_SESSION_ID = "9a4b2c7d-1e3f-4a5b-8c6d-2e7f9a0b1c3d"
EMAIL_SESSION_ID = "0b7e5d1a-93c4-4f0e-8d1b-5a2c7e9f4410"  # = the real sample's
PHONE_SESSION_ID = "5d8e1f4a-7b2c-4d9e-b3a6-1c0f8e2d7a95"
DEMO_SESSIONS = {
    "sms": SMS_SESSION_ID,
    "whatsapp": WHATSAPP_SESSION_ID,
    "web": WEB_SESSION_ID,
    "email": EMAIL_SESSION_ID,
    "phone_voice": PHONE_SESSION_ID,
}
DEMO_ORGANIZATION_ID = events.DEFAULT_ORGANIZATION_ID

_FORBIDDEN = "ai_is_forbidden_from_handling_this_topic"


def _item(item_id: str, at: str, sender: str, name: str, text: str, kind: str = "message") -> dict[str, Any]:
    return history_item(text, sender_type=sender, name=name, event_type=kind, created_at=at, item_id=item_id)


def _demo_data() -> list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]]:
    """(session, history, meta) for each demo session; built fresh each call, so callers may mutate."""
    sms = {  # session-sms.json, verbatim
        "id": SMS_SESSION_ID,
        "status": "open",
        "ai_closure_type": "handed_off",
        "sentiment": "neutral",
        "channel": {"type": "sms"},
        "ticket_number": 18231,
        "assist_mode": False,
        "contact": {
            "id": "c_41d9e0",
            "email": None,
            "phone_number": "+14155550123",
            "name": "Dana Reyes",
            "custom_data": {},
        },
        "language": "en",
        "assignee_id": None,
        "custom_data": {},
        "team": None,
        "handoff": {
            "summary": "Customer wants to move delivery of order 1182 from Wednesday to Friday and asked for a human agent.",
            "sentiment": "neutral",
        },
        "ticketing_system": None,
        "created_at": "2026-11-25T09:58:01.904Z",
        "updated_at": "2026-11-25T09:59:42.118Z",
    }
    sms_history = [  # history-sms.json, verbatim
        _item(
            "m1",
            "2026-11-25T09:58:02.000Z",
            "contact",
            "Dana Reyes",
            "Hi, my order 1182 is coming Wednesday but I won't be home",
        ),
        _item(
            "m2",
            "2026-11-25T09:58:04.000Z",
            "ai",
            "Assistant",
            "I can help with that. Which day works better?",
        ),
        _item("m3", "2026-11-25T09:59:40.000Z", "contact", "Dana Reyes", "Friday. Can I talk to an agent?"),
        _item(
            "m4",
            "2026-11-25T09:59:41.000Z",
            "ai",
            "Assistant",
            "Sure, connecting you to a member of our team now.",
            "handoff",
        ),
    ]
    email = {  # session-email.json, verbatim
        **copy.deepcopy(sms),
        "id": EMAIL_SESSION_ID,
        "sentiment": "angry",
        "channel": {"type": "email"},
        "ticket_number": 18240,
        "contact": {
            "id": "c_77a0b3",
            "email": "priya.n@example.com",
            "phone_number": None,
            "name": "Priya Natarajan",
            "custom_data": {},
        },
        "handoff": {
            "summary": "Customer disputes a refund amount on invoice INV-20931 and wants a person to review it.",
            "sentiment": "angry",
        },
        "created_at": "2026-11-25T10:11:40.020Z",
        "updated_at": "2026-11-25T10:14:03.551Z",
    }
    email_history = [
        _item(
            "e1",
            "2026-11-25T10:11:40.020Z",
            "contact",
            "Priya Natarajan",
            "Hello, the refund on invoice INV-20931 is 40 EUR short. I was charged twice for shipping.",
        ),
        _item(
            "e2",
            "2026-11-25T10:13:58.000Z",
            "ai",
            "Assistant",
            "Thanks for the details. Refund disputes are reviewed by our billing team.",
        ),
        _item(
            "e3",
            "2026-11-25T10:14:03.000Z",
            "ai",
            "Assistant",
            "I have passed your request to a member of the billing team.",
            "handoff",
        ),
    ]
    whatsapp = new_session(
        WHATSAPP_SESSION_ID,
        channel="whatsapp",
        contact={
            "id": "c_5e2a91",
            "name": "Jonas Mueller",
            "email": "jonas.mueller@example.de",
            "phone_number": "+4915123456789",
        },
        summary="Parcel 88213 shows as delivered but never arrived; the customer checked with neighbours and wants a person.",
        sentiment="angry",
        ticket_number=18235,
        created_at="2026-11-25T10:02:11.310Z",
        updated_at="2026-11-25T10:05:27.904Z",
    )
    whatsapp_history = [
        _item(
            "w1",
            "2026-11-25T10:02:11.310Z",
            "contact",
            "Jonas Mueller",
            "Hi, parcel 88213 says delivered but it is not here",
        ),
        _item(
            "w2",
            "2026-11-25T10:02:14.000Z",
            "ai",
            "Assistant",
            "Sorry to hear that. Could a neighbour have taken it in?",
        ),
        _item(
            "w3",
            "2026-11-25T10:05:20.000Z",
            "contact",
            "Jonas Mueller",
            "I asked them all, nobody has it. I want to speak to a person.",
        ),
        _item(
            "w4",
            "2026-11-25T10:05:26.000Z",
            "ai",
            "Assistant",
            "Understood, a colleague will take over this chat.",
            "handoff",
        ),
    ]
    web = new_session(
        WEB_SESSION_ID,
        channel="web",
        contact={"id": "c_2b7f44", "name": "Priya N", "email": "priya.n@example.com", "phone_number": None},
        summary="Customer cannot save a new billing address: the form rejects the postcode as invalid.",
        sentiment="neutral",
        ticket_number=18238,
        created_at="2026-11-25T10:07:45.002Z",
        updated_at="2026-11-25T10:09:12.640Z",
    )
    web_history = [
        _item(
            "b1",
            "2026-11-25T10:07:45.002Z",
            "contact",
            "Priya N",
            "How do I change the billing address on my subscription?",
        ),
        _item(
            "b2",
            "2026-11-25T10:07:47.000Z",
            "ai",
            "Assistant",
            "Go to Account, then Billing, then Edit address.",
        ),
        _item(
            "b3",
            "2026-11-25T10:09:05.000Z",
            "contact",
            "Priya N",
            "It won't save, it says my postcode is invalid. Can a person look?",
        ),
        _item(
            "b4",
            "2026-11-25T10:09:11.000Z",
            "ai",
            "Assistant",
            "I'm handing this to our support team now.",
            "handoff",
        ),
    ]
    phone = new_session(
        PHONE_SESSION_ID,
        channel="phone_voice",
        contact={"id": "c_9c3d10", "name": None, "email": None, "phone_number": "+442079460321"},
        summary="Caller's boiler stopped working after yesterday's engineer visit; asks for a return visit today.",
        sentiment="angry",
        language="en",
        ticket_number=18244,
        created_at="2026-11-25T10:20:03.118Z",
        updated_at="2026-11-25T10:22:40.772Z",
    )
    phone_history = [
        _item(
            "p1",
            "2026-11-25T10:20:05.000Z",
            "contact",
            "Caller",
            "My boiler stopped working right after your engineer came yesterday.",
        ),
        _item(
            "p2",
            "2026-11-25T10:20:09.000Z",
            "ai",
            "Assistant",
            "I'm sorry about that. Is there any error code on the display?",
        ),
        _item(
            "p3",
            "2026-11-25T10:22:30.000Z",
            "contact",
            "Caller",
            "F28. I need someone to come back today, I have a baby at home.",
        ),
        _item(
            "p4",
            "2026-11-25T10:22:39.000Z",
            "ai",
            "Assistant",
            "I'm transferring you to a colleague now.",
            "handoff",
        ),
    ]
    return [
        (sms, sms_history, {"contact_reason": "Delivery change"}),
        (whatsapp, whatsapp_history, {"contact_reason": "Missing parcel"}),
        (web, web_history, {"contact_reason": "Billing address change"}),
        (email, email_history, {"contact_reason": "Billing dispute", "reason": _FORBIDDEN}),
        (phone, phone_history, {"contact_reason": "Repeat repair visit"}),
    ]


def seed_demo(sim: OpenCXSimulator) -> dict[str, str]:
    """Add the five demo sessions (idempotent: fixed ids replace themselves); their ids by channel."""
    for session, history, meta in _demo_data():
        sim.put_session(
            session, history, reason=meta.get("reason"), contact_reason=meta.get("contact_reason")
        )
    return dict(DEMO_SESSIONS)


def demo_handoff_event(session: str, **options: Any) -> dict[str, Any]:
    """The `conversation.handoff_to_human` envelope for a demo session (by channel name or id), built
    from the static demo data, so a process without the simulator object (bench, a CLI) can send it."""
    session_id = DEMO_SESSIONS.get(session, session)
    for data, history, meta in _demo_data():
        if data["id"] == session_id:
            return events.handoff_event(data, meta, len(history), **options)
    raise KeyError(session)
