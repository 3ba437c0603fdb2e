"""How a Dataverse outcome is classified (DESIGN section 5) and how long to wait before retrying."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
RETRY_AFTER_CAP_SECONDS = 3600.0
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Dataverse answers 412 with this code when a row with the same key already exists.
DUPLICATE_KEY_CODE = "0x80040237"


class Outcome(StrEnum):
    SUCCESS = "success"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


def classify(status: int | None, error_code: str | None = None) -> Outcome:
    """None stands for a transport failure (connection dropped, timeout): always transient."""
    if status is None or status in TRANSIENT_STATUSES:
        return Outcome.TRANSIENT
    if 200 <= status < 300 or (status == 412 and error_code == DUPLICATE_KEY_CODE):
        return Outcome.SUCCESS
    return Outcome.PERMANENT


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), capped; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(attempt, 30))
    return (rng or random).uniform(0, ceiling)


def retry_delay_seconds(attempt: int, retry_after: float | None, rng: random.Random | None = None) -> int:
    """The visibility delay for the re-enqueued message: Retry-After when given, else backoff.

    At least one second, so a message never spins; whole seconds, as the queue takes them.
    """
    delay = retry_after if retry_after is not None else backoff_seconds(attempt, rng)
    return max(1, int(-(-delay // 1)))
