"""Demo data: one workstream and contacts that exercise every linking branch (email, phone, ambiguous)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devtools.dataverse_sim.simulator import DataverseSimulator

DEMO_WORKSTREAM_ID = "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b5c"
DEMO_CONTACTS = {
    "priya": "a1f0c2d3-0000-4000-8000-000000000001",  # linked by email
    "dana": "a1f0c2d3-0000-4000-8000-000000000002",  # linked by mobile phone (the SMS sample)
    "mueller_1": "a1f0c2d3-0000-4000-8000-000000000003",  # these two share a landline, so the
    "mueller_2": "a1f0c2d3-0000-4000-8000-000000000004",  # WhatsApp sample's phone is ambiguous
}


def seed_demo(sim: DataverseSimulator) -> dict[str, str]:
    """Seed the demo rows (idempotent: fixed ids) and return their ids by name.

    jonas.mueller@example.de is deliberately not a contact's email, so the WhatsApp sample falls back to
    its phone, matches two contacts, and the demo shows the ambiguous branch.
    """
    sim.add_workstream(DEMO_WORKSTREAM_ID, name="SMS workstream (demo)")
    sim.add_contact(contactid=DEMO_CONTACTS["priya"], email="priya.n@example.com", fullname="Priya N")
    sim.add_contact(contactid=DEMO_CONTACTS["dana"], mobilephone="+14155550123", fullname="Dana Reyes")
    sim.add_contact(
        contactid=DEMO_CONTACTS["mueller_1"], telephone1="+4915123456789", fullname="Jonas Mueller"
    )
    sim.add_contact(
        contactid=DEMO_CONTACTS["mueller_2"], telephone1="+4915123456789", fullname="Julia Mueller"
    )
    return {"workstream": DEMO_WORKSTREAM_ID, **DEMO_CONTACTS}
