"""What the status API shows of the concierge: each message sent to the customer (its words, the
bridge's own, never the customer's), and the Dynamics ids written back to the OpenCX session."""

from __future__ import annotations

from typing import Any

from shared.concierge import ledger
from shared.concierge.notices import WRITE_BACK_KEY
from shared.platform.status_store import StoreUnavailable

_SHOWN = ("kind", "language", "text", "state", "status", "claimedAt", "sentAt", "wroteBack")


def concierge_view(session_id: str) -> dict[str, Any]:
    """`customerMessages` (oldest first) and `writtenBack`; empty when the ledger cannot be read."""
    try:
        entries = ledger.session_entries(session_id)
    except StoreUnavailable:
        return {"customerMessages": None}
    messages = [
        {"key": entry["key"], **{name: entry.get(name) for name in _SHOWN if entry.get(name) is not None}}
        for entry in entries
        if entry.get("text")
    ]
    view: dict[str, Any] = {"customerMessages": messages}
    written = next((entry for entry in entries if entry["key"] == WRITE_BACK_KEY), None)
    if written is not None:
        view["writtenBack"] = {
            key: value
            for key, value in written.items()
            if key.startswith("dynamics365_") or key == "ticketnumber"
        }
    return view
