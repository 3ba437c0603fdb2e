"""The representative availability actions, answered from a schedule and a scripted queue.

`CCaaS_GetRepresentativeAvailabilityBeforeConversation` and `...ForConversation`
(contact-center/extend/api/ccaas-get-representative-availability-*.md; the answer's fields in
contact-center/includes/cc-availability-response.md). Never kinder than the service:
- off by default: 405 "API not allowed" until `enabled` (the org's feature, or the caller's role);
- PascalCase keys as the sample answer, `AverageWaitTime` null as there, and `PositionInQueue` /
  `AverageWaitTimeInSeconds` left out while the script has no line or no wait;
- `StartTimeOfNextOperatingHour` `0001-01-01T00:00:00Z` during hours, as documented;
- an unknown workstream or conversation is 404, a body without `ApiVersion` 400, a
  `CustomContextItems` that is not a string holding a JSON object 400.

Scripted with `configure` (Python) or `POST /_sim/availability` (same fields): `enabled`,
`time_zone` (IANA), `hours` ({"mon": ["09:00", "17:00"], ...}; a day left out is closed),
`line` (customers already waiting), `average_wait_seconds`, `experts`, `positions`
({conversation id: position}) and `now` (ISO instant pinning the clock, null for the real one).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from devtools.dataverse_sim.odata import CODE_PAYLOAD, ODataError, Reply, bad, json_reply, parse_guid

BEFORE = "CCaaS_GetRepresentativeAvailabilityBeforeConversation"
FOR_CONVERSATION = "CCaaS_GetRepresentativeAvailabilityForConversation"
ACTIONS = {BEFORE: "availability_before", FOR_CONVERSATION: "availability_for"}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NEVER = "0001-01-01T00:00:00Z"
NO_TRANSITION = "9999-12-31T23:59:59Z"
# What `configure` accepts, and how each value becomes the desk's (`now`: an instant pinning the clock).
_CONVERT: dict[str, Callable[[Any], Any]] = {
    "enabled": bool,
    "time_zone": lambda zone: ZoneInfo(str(zone)),
    "hours": lambda hours: {
        str(day).lower()[:3]: (time.fromisoformat(span[0]), time.fromisoformat(span[1]))
        for day, span in dict(hours).items()
    },
    "line": int,
    "average_wait_seconds": lambda wait: None if wait is None else float(wait),
    "experts": int,
    "positions": lambda positions: {str(k).lower(): int(v) for k, v in dict(positions).items()},
    "now": lambda at: at if at is None or isinstance(at, datetime) else datetime.fromisoformat(str(at)),
}


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AvailabilityDesk:
    """The scripted queue and its operating hours."""

    def __init__(
        self,
        has_workstream: Callable[[str], bool],
        has_conversation: Callable[[str], bool],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._has_workstream = has_workstream
        self._has_conversation = has_conversation
        self._real_clock = clock
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.enabled, self.time_zone = False, ZoneInfo("UTC")
            self.hours = {day: (time(9), time(17)) for day in DAYS[:5]}
            self.line, self.experts = 0, 0
            self.positions: dict[str, int] = {}
            self.average_wait_seconds: float | None = None
            self.now: datetime | None = None

    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        if unknown := sorted(set(data) - _CONVERT.keys()):
            raise ValueError(f"unknown availability fields: {', '.join(unknown)}")
        with self.lock:
            for name, value in data.items():
                setattr(self, name, _CONVERT[name](value))
        return self.describe()

    def pin_clock(self, at: object) -> None:
        """Answer as at `at` (a datetime or an ISO instant; None: the real clock again)."""
        self.now = _CONVERT["now"](at)

    def describe(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in _CONVERT if name != "now"}
        hours = {day: [a.isoformat("minutes"), b.isoformat("minutes")] for day, (a, b) in self.hours.items()}
        return {**state, "time_zone": str(self.time_zone), "hours": hours, "positions": dict(self.positions)}

    def _span(self, day: date) -> tuple[datetime, datetime] | None:
        if (hours := self.hours.get(DAYS[day.weekday()])) is None:
            return None
        start, end = (datetime.combine(day, at, self.time_zone) for at in hours)
        return (start, end) if end > start else None

    def schedule_at(self, now: datetime) -> tuple[bool, datetime | None, datetime | None]:
        """(open now, the next opening when closed, the next transition) for `now`."""
        local = now.astimezone(self.time_zone)
        for offset in range(0, 9):
            if (span := self._span((local + timedelta(days=offset)).date())) is None:
                continue
            start, end = span
            if offset == 0 and start <= local < end:
                return True, None, end
            if start > local:
                return False, start, start
        return False, None, None

    def answer(self, action: str, body: bytes) -> Reply:
        if not self.enabled:
            raise ODataError(405, "0x80040220", "API not allowed.")
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise bad("The request body is not valid JSON.", CODE_PAYLOAD) from None
        if not isinstance(data, dict) or data.get("ApiVersion") != "1.0":
            raise bad("ApiVersion must be '1.0'.", CODE_PAYLOAD)
        if (items := data.get("CustomContextItems")) is not None:
            if not isinstance(items, str):
                raise bad("CustomContextItems must be a string holding JSON.", CODE_PAYLOAD)
            try:
                parsed = json.loads(items)
            except ValueError:
                raise bad("CustomContextItems is not valid JSON.", CODE_PAYLOAD) from None
            values = parsed.values() if isinstance(parsed, dict) else [None]
            if not all(isinstance(item, dict) and "value" in item for item in values):
                raise bad("CustomContextItems: each item needs a value.", CODE_PAYLOAD)
        with self.lock:
            if action == BEFORE:
                workstream = parse_guid(str(data.get("LiveWorkStreamId") or ""))
                if not workstream or not self._has_workstream(workstream):
                    raise ODataError(404, "0x80040217", "Workstream not found.")
                position = self.line + 1 if self.line > 0 else None
            else:
                conversation = str(data.get("ConversationId") or "").lower()
                known = self._has_conversation(conversation) or conversation in self.positions
                if not conversation or not known:
                    raise ODataError(404, "0x80040217", "Conversation not found.")
                position = self.positions.get(conversation) or (self.line or None)
            is_open, next_opening, transition = self.schedule_at(self.now or self._real_clock())
            payload: dict[str, Any] = {
                "@odata.context": f"$metadata#Microsoft.Dynamics.CRM.{action}Response",
                "NextTransitionTime": _iso(transition) if transition else NO_TRANSITION,
                "NumberOfExpertsAvailableInQueue": self.experts if is_open else 0,
                "AverageWaitTime": None,
                "StartTimeOfNextOperatingHour": _iso(next_opening) if next_opening else NEVER,
                "EndTimeOfNextOperatingHour": NEVER,
                "QueueId": "85e55877-f27a-e911-a81a-000d3a1ca610",
                "IsAgentAvailable": bool(is_open and self.experts > 0),
                "IsQueueAvailable": is_open,
            }
            if is_open and self.average_wait_seconds is not None:
                payload["AverageWaitTimeInSeconds"] = self.average_wait_seconds
            if position:
                payload["PositionInQueue"] = position
            return json_reply(200, payload)
