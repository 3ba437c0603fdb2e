"""The simulator's thread-safe state: sessions with their append-only histories, and each key's rate window.

Rate limit: the OpenAPI document behind every docs.open.cx API page says "API requests are rate limited
... 100 requests per minute for standard endpoints". The algorithm, the `Retry-After` header and whether
a refused request uses up budget are undocumented. Chosen: a sliding window per key (a request is
admitted when fewer than `limit` requests were admitted in the last `window` seconds); a refused request
costs nothing; `Retry-After` is the time until the oldest admitted request leaves the window, so a
client that waits exactly that long is admitted.
"""

from __future__ import annotations

import copy
import math
import threading
from collections import deque
from typing import Any


class Store:
    """What OpenCX would hold for one organisation: session objects and their event histories."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, dict[str, Any]] = {}
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def put(self, session: dict[str, Any], history: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        """Add or replace a session (seeding is idempotent: fixed ids replace themselves)."""
        with self._lock:
            self._sessions[session["id"]] = copy.deepcopy(session)
            self._history[session["id"]] = copy.deepcopy(history)
            self._meta[session["id"]] = {"handoff_at": session.get("updated_at"), "live_messages": 0, **meta}

    def session(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._sessions.get(session_id))

    def meta(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._meta.get(session_id, {}))

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def history(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._history.get(session_id, []))

    def page(
        self, session_id: str, start: int | None, size: int, newest_first: bool
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Items from index `start` on, and the index the next page starts at (None: nothing left).
        Newest first, `start` None is the newest now and pages go downwards, so items added meanwhile
        are not revisited: the cursor only moves forward, towards older items."""
        with self._lock:
            items = self._history[session_id]
            if not newest_first:
                low = start or 0
                end = min(low + size, len(items))
                return copy.deepcopy(items[low:end]), (end if end < len(items) else None)
            top = len(items) - 1 if start is None else min(start, len(items) - 1)
            low = max(0, top - size + 1)
            return copy.deepcopy(items[low : top + 1][::-1]), (low - 1 if low > 0 else None)

    def append(self, session_id: str, item: dict[str, Any], *, live: bool = False) -> None:
        """Append an event. `live` marks one that happened after the handoff (a send, a customer reply),
        which the handoff event's `message_count` must not include."""
        with self._lock:
            self._history[session_id].append(copy.deepcopy(item))
            self._sessions[session_id]["updated_at"] = item["created_at"]
            self._meta[session_id]["live_messages"] += live

    def handoff_facts(self, session_id: str) -> tuple[str | None, int]:
        """(timestamp, message_count) of the handoff: fixed when the session was put, so the same
        session always yields the same event identity, however much it was talked in since."""
        with self._lock:
            meta = self._meta[session_id]
            return meta["handoff_at"], len(self._history[session_id]) - meta["live_messages"]

    def update(
        self, session_id: str, fields: dict[str, Any], custom: Any = None, contact_custom: Any = None
    ) -> dict[str, Any]:
        """Set top-level fields; SEND: both custom_data objects "merge into any existing data"."""
        with self._lock:
            session = self._sessions[session_id]
            session.update(copy.deepcopy(fields))
            if custom:
                session.setdefault("custom_data", {}).update(custom)
            if contact_custom and isinstance(session.get("contact"), dict):
                session["contact"].setdefault("custom_data", {}).update(contact_custom)
            return copy.deepcopy(session)

    def count(self) -> int:
        with self._lock:
            return len(self._sessions)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._history.clear()
            self._meta.clear()


class RateLimiter:
    """Sliding-window admission per key. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._admitted: dict[str, deque[float]] = {}

    def take(self, key: str, limit: int, window: float, now: float) -> tuple[float | None, int]:
        """(None, requests still admissible) when admitted, or (seconds until a slot frees, 0)."""
        with self._lock:
            times = self._admitted.setdefault(key, deque())
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) < limit:
                times.append(now)
                return None, limit - len(times)
            # limit == 0: never admitted; say a whole window
            return (max(times[0] + window - now, 0.001) if times else window), 0

    def clear(self) -> None:
        with self._lock:
            self._admitted.clear()


def retry_after_text(seconds: float, window: float) -> str:
    """Whole seconds, rounded up, for realistic windows (RFC 9110 delay-seconds); for sub-second test
    windows the fraction, rounded up to the millisecond, so fast tests are not forced to sleep 1 s."""
    if window >= 1.0:
        return str(max(1, math.ceil(seconds)))
    return repr(math.ceil(seconds * 1000) / 1000)
