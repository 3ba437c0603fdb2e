"""`make demo`'s concierge scene (docs/concierge.md): with CONCIERGE on, one SMS handoff inside
operating hours with a line (the customer gets the acknowledgment: place and usual wait) and one at
night (the customer gets when the team is back, in CONCIERGE_TIME_ZONE). The schedule is the Dataverse
simulator's (devtools/dataverse_sim/availability.py), its clock pinned to a Tuesday so the output is
the same every day.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

ZONE = "America/New_York"
SETTINGS = {"CONCIERGE": "true", "CONCIERGE_TIME_ZONE": ZONE}
HOURS = {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
SCENES = (
    ("inside hours, 3 waiting", {"now": "2026-12-08T15:30:00Z", "line": 3, "average_wait_seconds": 185}),
    ("at night", {"now": "2026-12-08T03:00:00Z", "line": 0, "average_wait_seconds": None}),
)


def open_without_line(dataverse: Any) -> None:
    """The first handoffs: the queue open with nothing known, so they get no message (as today)."""
    dataverse.availability.configure(
        {"enabled": True, "time_zone": ZONE, "hours": HOURS, "now": SCENES[0][1]["now"]}
    )


def run_scene(
    dataverse: Any, opencx: Any, send_handoff: Callable[[str], Any], timeout: float = 30.0
) -> list[str]:
    """Send the two scene handoffs (each on a new SMS session); the lines to print."""
    lines = ["", f"Concierge (CONCIERGE=true, CONCIERGE_TIME_ZONE={ZONE}): what the customer is told"]
    for label, script in SCENES:
        dataverse.availability.configure(script)
        session_id = opencx.add_session(channel="sms", name="Sam Ortiz", phone_number="+14155550188")
        send_handoff(session_id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not opencx.sent_to(session_id):
            time.sleep(0.02)
        sent = opencx.sent_to(session_id)
        lines += [f"  {label} (session {session_id}):", *([] if sent else ["    NO MESSAGE"])]
        for message in sent:
            lines.append(f"    SMS ({len(message.text or '')} chars): {message.text}")
            custom = message.body.get("custom_data")
            if custom:
                lines.append(f"    custom_data written to the OpenCX session: {custom}")
    return lines


def all_told(lines: list[str]) -> bool:
    return not any("NO MESSAGE" in line for line in lines)
