"""How an upstream answer is classified (contract section 6) and how long to wait before retrying.

Throttling is waiting, not failing: a 429 is its own outcome, bounded by the handoff's age rather
than by the attempts that bound the other transient failures.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
RETRY_AFTER_CAP_SECONDS = 3600.0
TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})
THROTTLED_STATUS = 429


class Outcome(StrEnum):
    SUCCESS = "success"
    TRANSIENT = "transient"
    THROTTLED = "throttled"
    PERMANENT = "permanent"


def classify(status: int | None) -> Outcome:
    """None stands for a transport failure (connection dropped, timeout): always transient. A 412
    is not decided here: only a GET of the row tells whether it exists (shared/dynamics/rows.py)."""
    if status is None or status in TRANSIENT_STATUSES:
        return Outcome.TRANSIENT
    if status == THROTTLED_STATUS:
        return Outcome.THROTTLED
    if 200 <= status < 300:
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


def retry_delay_seconds(
    attempt: int, retry_after: float | None, rng: random.Random | None = None, *, spread: bool = False
) -> int:
    """The visibility delay for the re-enqueued message: Retry-After when given, else backoff.

    `spread` (throttling): Retry-After plus up to half of it again, never less, so a crowd of
    handoffs throttled together does not come back in the same second and meet the limit again.
    At least one second, so a message never spins; whole seconds, as the queue takes them.
    """
    if retry_after is None:
        delay = backoff_seconds(attempt, rng)
    else:
        delay = retry_after + ((rng or random).uniform(0, retry_after / 2) if spread else 0.0)
    return max(1, int(-(-delay // 1)))
