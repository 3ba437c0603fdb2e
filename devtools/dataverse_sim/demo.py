"""Demo data: a workstream per channel, contacts that exercise every linking branch (email, phone,
ambiguous, inactive), an incident queue, and an owner user and team; plus the "crowd" scenario.
Every id is a fixed constant, so seeding is idempotent and tests and settings can name the rows."""

from __future__ import annotations

from typing import Any

DEMO_WORKSTREAM_ID_SMS = "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b5c"
DEMO_WORKSTREAM_ID_WHATSAPP = "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b5d"
DEMO_WORKSTREAM_ID_WEB = "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b5e"
DEMO_WORKSTREAM_ID = DEMO_WORKSTREAM_ID_SMS  # the original single demo workstream
DEMO_WORKSTREAMS = {
    "sms": DEMO_WORKSTREAM_ID_SMS,
    "whatsapp": DEMO_WORKSTREAM_ID_WHATSAPP,
    "web": DEMO_WORKSTREAM_ID_WEB,
}
DEMO_QUEUE_ID = "7c4d0b2f-3e5a-4f9b-8d7c-1e2f3a4b5c60"  # incident queue (INCIDENT_QUEUE_ID)
DEMO_OWNER_USER_ID = "7c4d0b2f-3e5a-4f9b-8d7c-1e2f3a4b5c61"  # systemuser (INCIDENT_OWNER_ID)
DEMO_OWNER_TEAM_ID = "7c4d0b2f-3e5a-4f9b-8d7c-1e2f3a4b5c62"  # team (INCIDENT_OWNER_TYPE=team)
DEMO_INACTIVE_EMAIL = "former.customer@example.com"
DEMO_INACTIVE_PHONE = "+14155550177"
DEMO_CONTACTS = {
    "priya": "a1f0c2d3-0000-4000-8000-000000000001",  # linked by email
    "dana": "a1f0c2d3-0000-4000-8000-000000000002",  # linked by mobile phone (the SMS sample)
    "mueller_1": "a1f0c2d3-0000-4000-8000-000000000003",  # these two share a landline, so the
    "mueller_2": "a1f0c2d3-0000-4000-8000-000000000004",  # WhatsApp sample's phone is ambiguous
}
# Inactive contacts own identifiers no active demo contact has, so the existing demo links do not change;
# a handoff from one of them must NOT link (only active contacts link: `statecode eq 0`).
DEMO_INACTIVE_CONTACTS = {
    "former": "a1f0c2d3-0000-4000-8000-000000000011",
    "moved_away": "a1f0c2d3-0000-4000-8000-000000000012",
    "closed_account": "a1f0c2d3-0000-4000-8000-000000000013",
}
# jonas.mueller@example.de is no contact's email, so WhatsApp falls back to the phone the Muellers share.
_FIELDS: dict[str, dict[str, str]] = {
    "priya": {"email": "priya.n@example.com", "fullname": "Priya N"},
    "dana": {"mobilephone": "+14155550123", "fullname": "Dana Reyes"},
    "mueller_1": {"telephone1": "+4915123456789", "fullname": "Jonas Mueller"},
    "mueller_2": {"telephone1": "+4915123456789", "fullname": "Julia Mueller"},
    "former": {"email": DEMO_INACTIVE_EMAIL, "fullname": "Fran Former"},
    "moved_away": {"mobilephone": DEMO_INACTIVE_PHONE, "fullname": "Moe Moved"},
    "closed_account": dict(
        email="closed.account@example.com", mobilephone="+442071838750", fullname="Cleo Closed"
    ),
}


def seed_demo(sim: Any) -> dict[str, str]:
    """Seed the demo rows (idempotent: fixed ids) and return their ids by name."""
    for channel, name in {"sms": "SMS", "whatsapp": "WhatsApp", "web": "Web chat"}.items():
        sim.add_workstream(DEMO_WORKSTREAMS[channel], name=f"{name} workstream (demo)")
    sim.add_queue(DEMO_QUEUE_ID, name="Support cases (demo)")
    sim.add_systemuser(DEMO_OWNER_USER_ID, fullname="Sam Support (demo)")
    sim.add_team(DEMO_OWNER_TEAM_ID, name="Tier 1 (demo)")
    for statecode, contacts in ((0, DEMO_CONTACTS), (1, DEMO_INACTIVE_CONTACTS)):
        for name, contact_id in contacts.items():
            sim.add_contact(contactid=contact_id, statecode=statecode, **_FIELDS[name])
    workstreams = {f"workstream_{channel}": ws for channel, ws in DEMO_WORKSTREAMS.items()}
    rows = {"workstream": DEMO_WORKSTREAM_ID, **workstreams, "queue": DEMO_QUEUE_ID}
    owners = {"owner_user": DEMO_OWNER_USER_ID, "owner_team": DEMO_OWNER_TEAM_ID}
    return {**rows, **owners, **DEMO_CONTACTS, **DEMO_INACTIVE_CONTACTS}


def seed_crowd(
    sim: Any, phone: str = "+14155550199", email: str = "crowd.customer@example.com", size: int = 11
) -> dict[str, object]:
    """`size` (10 or more) active contacts sharing `phone`; only the last one also has `email`. It is
    inserted last with the highest id, so a single `email or phone` query with `$top=10` returns ten
    phone-only contacts and hides the one email match (issue 12's crowd)."""
    if size < 10:
        raise ValueError("a crowd has at least 10 contacts (the bridge's lookup asks for $top=10)")
    ids = [f"c0ffee00-0000-4000-8000-{i:012d}" for i in range(1, size + 1)]  # ascending
    for i, contact_id in enumerate(ids[:-1], start=1):
        sim.add_contact(contactid=contact_id, mobilephone=phone, fullname=f"Crowd member {i}")
    sim.add_contact(contactid=ids[-1], mobilephone=phone, email=email, fullname="Crowd customer")
    return {"email_match": ids[-1], "phone_only": ids[:-1]}
