"""Instants as the bridge writes and reads them: epoch seconds in code, ISO 8601 UTC on the wire and
in the tables. One place, so every module agrees on what a time string means."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_at(at: float) -> str:
    """An instant (epoch seconds) as ISO 8601 UTC to the millisecond."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


def instant(value: object) -> float | None:
    """Epoch seconds of an ISO 8601 string (`Z` or an offset; naive means UTC), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
