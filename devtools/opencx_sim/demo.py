"""Demo sessions with stable ids, one per linkage story the Dataverse simulator's demo contacts tell
(the table in docs/opencx-simulator.md, "Demo sessions"). The sms session and history and the email
session are the real samples in samples/opencx/; everything else is in demo_sessions.json."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from devtools.opencx_sim import events

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

_SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "opencx"
_DATA = Path(__file__).with_name("demo_sessions.json")


@functools.cache
def _read(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def _demo_data() -> list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]]:
    """(session, history, meta) for each demo session; copied fresh each call, so callers may mutate."""
    data = copy.deepcopy(_read(_DATA))
    data["sms"]["session"] = copy.deepcopy(_read(_SAMPLES / "session-sms.json"))
    data["sms"]["history"] = copy.deepcopy(_read(_SAMPLES / "history-sms.json"))["items"]
    data["email"]["session"] = copy.deepcopy(_read(_SAMPLES / "session-email.json"))
    return [(data[name]["session"], data[name]["history"], data[name]["meta"]) for name in DEMO_SESSIONS]


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
