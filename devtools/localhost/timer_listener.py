"""One timer trigger fired on its NCRONTAB schedule (after %SETTING% resolution), as the host does.

NCRONTAB: `{second} {minute} {hour} {day} {month} {day-of-week}` ("0 */5 * * * *" = every five
minutes), in UTC (the host's default without WEBSITE_TIME_ZONE); with both day fields restricted a time
must match both (NCrontab's reading, unlike Vixie cron's "either": croniter's day_or=False).
`run_on_startup` fires once at start; `past_due` says an occurrence runs more than PAST_DUE_SECONDS
late. Invocations of one timer never overlap (the host's singleton lock per timer), and occurrences
missed meanwhile run once, past due. Time is injected (`clock()`, `run_due(now)`), so tests move a fake
clock instead of waiting.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.functions.timer import TimerRequest
from croniter import CroniterBadDateError, croniter

from devtools.localhost.config import invoke, log_invocation, resolve_setting

PAST_DUE_SECONDS = 1.0
_MAX_WAIT_SECONDS = 1.0  # the loop re-reads the clock at least this often
_FIELDS = ("second", "minute", "hour", "day", "month", "day-of-week")
_RANGE = re.compile(r"(\d+)-(\d+)")


class ScheduleError(ValueError):
    """A schedule the runner cannot read, or one that never fires; the message names the field."""


@dataclass(frozen=True)
class Schedule:
    """A six-field NCRONTAB expression, read and stepped by croniter (seconds first, both day fields)."""

    expression: str

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != 6:
            raise ScheduleError(f"schedule {expression!r} must have 6 fields ({' '.join(_FIELDS)})")
        for i, (name, part) in enumerate(zip(_FIELDS, parts, strict=True)):  # croniter names no field
            alone = " ".join(part if j == i else "*" for j in range(6))
            backwards = any(int(a) > int(b) for a, b in _RANGE.findall(part))  # croniter would wrap
            if backwards or not croniter.is_valid(alone, second_at_beginning=True):
                raise ScheduleError(f"{name}: {part!r} is not a value, range or step in range")
        return cls(expression)

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (same tzinfo), to the second."""
        schedule = croniter(self.expression, moment, day_or=False, second_at_beginning=True)
        try:
            return schedule.get_next(datetime)
        except CroniterBadDateError:
            raise ScheduleError(f"schedule {self.expression!r} never fires") from None


def utc_now() -> datetime:
    return datetime.now(UTC)


def timer_request(
    past_due: bool, last: datetime | None, next_due: datetime, expression: str, updated: datetime
) -> TimerRequest:
    """The timer argument as the worker builds it from the host's JSON."""
    iso = datetime.isoformat
    status = {"Last": last and iso(last), "Next": iso(next_due), "LastUpdated": iso(updated)}
    schedule = {"AdjustForDST": False, "Expression": expression}
    return TimerRequest(past_due=past_due, schedule_status=status, schedule=schedule)


class TimerListener:
    """One timer trigger: `start()`/`stop()` in the background, or `run_due(now)` / `fire()` by hand."""

    def __init__(
        self, function: Any, environ: Mapping[str, str], clock: Callable[[], datetime] = utc_now
    ) -> None:
        trigger = function.get_trigger()
        self.function, self.name, self.trigger_arg = function, function.get_function_name(), trigger.name
        self.expression = resolve_setting(str(trigger.schedule), environ)
        self.schedule = Schedule.parse(self.expression)
        self.run_on_startup = bool(getattr(trigger, "run_on_startup", False))
        self.clock = clock
        self.invocations = self.failures = 0
        self.last: datetime | None = None
        self.next_due = self.schedule.next_after(clock())
        self._run_lock = threading.Lock()  # one invocation at a time, as the host's singleton lock
        self._due_lock = threading.Lock()  # the loop and a test's run_due() never fire one occurrence twice
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"timer-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, drain_seconds: float = 30.0) -> None:
        """Stop scheduling; an invocation under way may finish within `drain_seconds`."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(drain_seconds)

    def _loop(self) -> None:
        if self.run_on_startup:
            self.fire()
        while not self._stop.is_set():
            wait = (self.next_due - self.clock()).total_seconds()
            if wait > 0 and self._stop.wait(min(wait, _MAX_WAIT_SECONDS)):
                return
            self.run_due(self.clock())

    def run_due(self, now: datetime) -> bool:
        """Fire if the next occurrence is due at `now`; the one after is computed from `now`, so a
        backlog of missed occurrences runs once, past due. Returns whether it fired."""
        with self._due_lock:
            due = self.next_due
            if now < due:
                return False
            self.next_due = self.schedule.next_after(now)
        self.fire((now - due).total_seconds() > PAST_DUE_SECONDS)
        return True

    def invoke_input(self, _text: str) -> str:
        """Core Tools' admin invocation: fire now, whatever the input."""
        return self.fire()

    def fire(self, past_due: bool = False) -> str:
        """Run the function now, outside the schedule; returns the outcome ("ok" or "failed")."""
        with self._run_lock:
            invocation_id, started, now = str(uuid.uuid4()), time.monotonic(), self.clock()
            info = timer_request(past_due, self.last, self.next_due, self.expression, now)
            self.last = now
            self.invocations += 1
            outcome, _ = invoke(self.function, self.trigger_arg, info, invocation_id)
            self.failures += outcome != "ok"
            log_invocation(self.name, invocation_id, started, outcome)
            return outcome
