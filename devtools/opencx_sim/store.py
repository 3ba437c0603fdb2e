"""Sessions, their append-only histories and the simulator-only facts a handoff event needs. Thread-safe."""

from __future__ import annotations

import copy
import threading
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

    def has(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._sessions

    def session(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._sessions.get(session_id)
            return copy.deepcopy(found) if found is not None else None

    def meta(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._meta.get(session_id, {}))

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def history(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._history.get(session_id, []))

    def page(self, session_id: str, offset: int, size: int) -> tuple[list[dict[str, Any]], int | None]:
        """Items [offset, offset+size) oldest first, and the next offset (None when nothing is left)."""
        with self._lock:
            items = self._history[session_id]
            chunk = copy.deepcopy(items[offset : offset + size])
            end = offset + len(chunk)
            return chunk, (end if end < len(items) else None)

    def page_newest_first(
        self, session_id: str, start: int | None, size: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Items from index `start` (None: the newest now) downwards, newest first, and the index the
        next page starts at (None when the oldest was reached). Items added meanwhile are not revisited:
        the cursor only moves forward, towards older items."""
        with self._lock:
            items = self._history[session_id]
            top = len(items) - 1 if start is None else min(start, len(items) - 1)
            low = max(0, top - size + 1)
            chunk = copy.deepcopy(items[low : top + 1][::-1])
            return chunk, (low - 1 if low > 0 else None)

    def append(self, session_id: str, item: dict[str, Any], updated_at: str, *, live: bool = False) -> None:
        """Append an event. `live` marks one that happened after the handoff (a send, a customer reply),
        which the handoff event's `message_count` must not include."""
        with self._lock:
            self._history[session_id].append(copy.deepcopy(item))
            self._sessions[session_id]["updated_at"] = updated_at
            if live:
                self._meta[session_id]["live_messages"] += 1

    def handoff_facts(self, session_id: str) -> tuple[str | None, int]:
        """(timestamp, message_count) of the handoff: fixed when the session was put, so the same
        session always yields the same event identity, however much it was talked in since."""
        with self._lock:
            meta = self._meta[session_id]
            return meta["handoff_at"], len(self._history[session_id]) - meta["live_messages"]

    def update(self, session_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Set top-level fields; returns the session as it is now."""
        with self._lock:
            session = self._sessions[session_id]
            session.update(copy.deepcopy(fields))
            return copy.deepcopy(session)

    def merge_custom_data(
        self, session_id: str, session_data: dict[str, Any] | None, contact_data: dict[str, Any] | None
    ) -> None:
        """SEND: both custom_data objects "merge into any existing data"."""
        with self._lock:
            session = self._sessions[session_id]
            if session_data:
                session.setdefault("custom_data", {}).update(session_data)
            if contact_data and isinstance(session.get("contact"), dict):
                session["contact"].setdefault("custom_data", {}).update(contact_data)

    def count(self) -> int:
        with self._lock:
            return len(self._sessions)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._history.clear()
            self._meta.clear()
