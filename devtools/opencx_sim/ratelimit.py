"""The per-key request budget: about 100 requests a minute, as OpenCX documents, with the numbers settable.

Source: the OpenAPI document behind every docs.open.cx API page says "API requests are rate limited ...
100 requests per minute for standard endpoints". The algorithm, the `Retry-After` header and whether a
refused request uses up budget are undocumented. Chosen: a sliding window per key (a request is admitted
when fewer than `limit` requests were admitted in the last `window` seconds); a refused request costs
nothing; `Retry-After` is the time until the oldest admitted request leaves the window, so a client that
waits exactly that long is admitted.
"""

from __future__ import annotations

import math
import threading
from collections import deque


class RateLimiter:
    """Sliding-window admission per key. Thread-safe; `limit=None` admits everything."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._admitted: dict[str, deque[float]] = {}

    def take(self, key: str, limit: int | None, window: float, now: float) -> float | None:
        """Admit a request (None) or say how many seconds until a slot frees."""
        if limit is None:
            return None
        with self._lock:
            times = self._admitted.setdefault(key, deque())
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) < limit:
                times.append(now)
                return None
            if not times:  # limit == 0: never admitted; say a whole window
                return window
            return max(times[0] + window - now, 0.001)

    def remaining(self, key: str, limit: int | None, window: float, now: float) -> int | None:
        """Requests still admissible right now for this key (None when unlimited)."""
        if limit is None:
            return None
        with self._lock:
            times = self._admitted.get(key, deque())
            return max(limit - sum(1 for t in times if t > now - window), 0)

    def clear(self) -> None:
        with self._lock:
            self._admitted.clear()


def retry_after_text(seconds: float, window: float) -> str:
    """Whole seconds, rounded up, for realistic windows (RFC 9110 delay-seconds); for sub-second test
    windows the fraction, rounded up to the millisecond, so fast tests are not forced to sleep 1 s."""
    if window >= 1.0:
        return str(max(1, math.ceil(seconds)))
    return repr(math.ceil(seconds * 1000) / 1000)
