"""One timer trigger fired on its NCRONTAB schedule, as the Functions host does.

The schedule (after %SETTING% resolution) is read by ncrontab.py; `run_on_startup` fires once at
start. The function gets a `func.TimerRequest` whose `past_due` says the occurrence is being run
late (more than `PAST_DUE_SECONDS` after it was due). Invocations of one timer never overlap (the
host holds a singleton lock per timer); an occurrence missed while one ran is run once, past due.

Time is injected: `clock()` gives an aware UTC datetime, and `run_due(now)` fires whatever is due
at `now`, so tests move a fake clock instead of waiting. `fire()` runs the function now, as Core
Tools' `POST /admin/functions/{name}` does.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from devtools.localhost.config import resolve_setting
from devtools.localhost.invocation import call_user_function, log_invocation, logger
from devtools.localhost.ncrontab import Schedule

PAST_DUE_SECONDS = 1.0
_MAX_WAIT_SECONDS = 1.0  # the loop re-reads the clock at least this often


def utc_now() -> datetime:
    return datetime.now(UTC)


class TimerInfo(func.TimerRequest):
    """What the worker passes as the timer argument: `past_due`, plus `schedule_status`/`schedule`."""

    def __init__(
        self,
        past_due: bool,
        last: datetime | None,
        next_due: datetime,
        schedule: str,
        updated: datetime | None = None,
    ) -> None:
        self._past_due = past_due
        self.schedule_status = {
            "Last": last.isoformat() if last else None,
            "Next": next_due.isoformat(),
            "LastUpdated": (updated or utc_now()).isoformat(),
        }
        self.schedule = {"AdjustForDST": False, "Expression": schedule}

    @property
    def past_due(self) -> bool:
        return self._past_due


class TimerListener:
    """One timer trigger: `start()`/`stop()` in the background, or `run_due(now)` / `fire()` by hand."""

    def __init__(
        self,
        function: Any,
        environ: Mapping[str, str],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        trigger = function.get_trigger()
        self.function = function
        self.trigger_arg = trigger.name
        self.expression = resolve_setting(str(trigger.schedule), environ)
        self.schedule = Schedule.parse(self.expression)
        self.run_on_startup = bool(getattr(trigger, "run_on_startup", False))
        self.clock = clock
        self.invocations = 0
        self.failures = 0
        self.last: datetime | None = None
        self.next_due = self.schedule.next_after(clock())
        self._run_lock = threading.Lock()  # one invocation at a time, as the host's singleton lock
        self._due_lock = threading.Lock()  # the loop and a test's run_due() never fire one occurrence twice
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return str(self.function.get_function_name())

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
            past_due = (now - due).total_seconds() > PAST_DUE_SECONDS
            self.next_due = self.schedule.next_after(now)
        self._invoke(past_due)
        return True

    def fire(self, past_due: bool = False) -> str:
        """Run the function now, outside the schedule; returns the outcome ("ok" or "failed")."""
        return self._invoke(past_due)

    def _invoke(self, past_due: bool) -> str:
        with self._run_lock:
            invocation_id = str(uuid.uuid4())
            started = time.monotonic()
            now = self.clock()
            info = TimerInfo(past_due, self.last, self.next_due, self.expression, now)
            self.last = now
            self.invocations += 1
            try:
                call_user_function(self.function, self.trigger_arg, info)
            except Exception:
                self.failures += 1
                logger.exception("function %s failed", self.name)
                log_invocation(self.name, invocation_id, started, "failed")
                return "failed"
            log_invocation(self.name, invocation_id, started, "ok")
            return "ok"
