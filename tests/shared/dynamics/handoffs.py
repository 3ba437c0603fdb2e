"""Handoffs built in memory for the Dynamics unit tests (no OpenCX call)."""

from __future__ import annotations

from typing import Any

from shared.opencx.handoff import Handoff
from shared.opencx.session import Customer, TranscriptLine

SESSION = "6f1d0c2e-2b8a-4a53-9a51-0c6f3f0e7b21"


def make_handoff(**overrides: Any) -> Handoff:
    values: dict[str, Any] = {
        "handoff_id": "h_1",
        "session_id": SESSION,
        "channel": "sms",
        "summary": "Customer wants to move delivery of order 1182 to Friday.",
        "customer": Customer(name="Dana Reyes", phone="+14155550123"),
        "language": "en",
        "reason": "ai_decided_to_handoff_the_conversation",
        "contact_reason": "Delivery change",
        "sentiment": "neutral",
        "transcript": (
            TranscriptLine(
                role="customer", text="Hi, my order 1182 is coming Wednesday", at="2026-11-25T09:58:02Z"
            ),
            TranscriptLine(role="ai", text="Which day works better?", at="2026-11-25T09:58:04Z"),
            TranscriptLine(
                role="customer", text="Friday. Can I talk to an agent?", at="2026-11-25T09:59:40Z"
            ),
        ),
    }
    values.update(overrides)
    return Handoff(**values)
