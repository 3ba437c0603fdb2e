"""Column values as Dataverse measures them, and the ids derived from a handoff (contract section 5)."""

from __future__ import annotations

import uuid

# Fixed namespace for every id derived from a handoff. Changing it would break idempotency.
DYNAMICS_NAMESPACE = uuid.UUID("3c8f9a52-6b1e-4d0f-9a7e-2f4d1c0b7e11")


def derived_id(conversation_id: str, handoff_id: str, *, legacy: bool = False) -> str:
    """uuid5 of conversation and handoff: two conversations never share an id, even when a sender
    reuses a header id. `legacy`: the v1 derivation from the handoffId alone (queued before an
    upgrade), so a retry of such a message meets its own row."""
    name = handoff_id if legacy else f"{conversation_id}\n{handoff_id}"
    return str(uuid.uuid5(DYNAMICS_NAMESPACE, name))


def utf16_length(text: str) -> int:
    """Dataverse (.NET) measures string lengths in UTF-16 code units: an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def cut(text: str, limit: int) -> str:
    """Cut to at most `limit` UTF-16 units, marking the cut, never splitting a surrogate pair."""
    if utf16_length(text) <= limit:
        return text
    units = text.encode("utf-16-le")[: (limit - 1) * 2]
    return units.decode("utf-16-le", errors="ignore") + "…"


def newest_lines_within(head: str, lines: list[str], limit: int, heading: str) -> str:
    """`head`, then as many of the newest `lines` as fit in `limit` UTF-16 units, oldest first."""
    if utf16_length(head) >= limit or not lines:
        return cut(head, limit)
    room = limit - utf16_length(head) - utf16_length(heading)
    kept: list[str] = []
    for line in reversed(lines):
        rendered = "\n" + line
        if utf16_length(rendered) > room:
            break
        kept.insert(0, rendered)
        room -= utf16_length(rendered)
    if not kept:
        return cut(head, limit)
    return head + heading + "".join(kept)
