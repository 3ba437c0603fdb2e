"""The local runner's timer triggers: NCRONTAB schedules, a fake clock instead of waiting, `past_due`,
`run_on_startup`, one log line per invocation, and Core Tools' `POST /admin/functions/{name}`."""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from logs import own_records

from devtools.localhost import LocalHost, QueueOptions, app_functions
from devtools.localhost.timer_listener import Schedule, ScheduleError, TimerListener, timer_request

START = datetime(2026, 12, 7, 15, 30, 20, tzinfo=UTC)  # a Monday
FAST = QueueOptions(max_polling_interval=0.2, batch_size=4, new_batch_threshold=2)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def set(self, now: datetime) -> None:
        with self.lock:
            self.now = now


def _fixture_module() -> Any:
    spec = importlib.util.spec_from_file_location("fixture_app", Path(__file__).parent / "fixture_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fixture() -> Any:
    return _fixture_module()


@pytest.fixture
def env(azurite: Any) -> dict[str, str]:
    return {
        "FIXTURE_QUEUE": f"fixture-{uuid.uuid4().hex[:10]}",
        "FIXTURE_RELAY_QUEUE": f"relay-{uuid.uuid4().hex[:10]}",
        "FIXTURE_STORAGE": azurite.connection_string,
        "FIXTURE_TIMER_SCHEDULE": "0 */1 * * * *",
    }


def _timer(fixture: Any, env: dict[str, str], name: str, clock: Clock) -> TimerListener:
    (function,) = [f for f in app_functions(fixture.build_app()) if f.get_function_name() == name]
    return TimerListener(function, env, clock)


def _post(url: str, body: bytes, method: str = "POST") -> tuple[int, str]:
    request = urllib.request.Request(url, data=body or None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


# ---------------------------------------------------------------------------------------- NCRONTAB


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 */1 * * * *", datetime(2026, 12, 7, 15, 31, 0, tzinfo=UTC)),
        ("*/15 * * * * *", datetime(2026, 12, 7, 15, 30, 30, tzinfo=UTC)),
        ("0 */5 * * * *", datetime(2026, 12, 7, 15, 35, 0, tzinfo=UTC)),
        ("0 0 6,18 * * *", datetime(2026, 12, 7, 18, 0, 0, tzinfo=UTC)),
        ("0 30 9 * * MON-FRI", datetime(2026, 12, 8, 9, 30, 0, tzinfo=UTC)),
        ("0 0 9-17/4 * * *", datetime(2026, 12, 7, 17, 0, 0, tzinfo=UTC)),
        ("0 0 0 1 1 *", datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC)),
        ("0 0 12 * * 0", datetime(2026, 12, 13, 12, 0, 0, tzinfo=UTC)),  # Sunday
        ("0 0 12 * * 7", datetime(2026, 12, 13, 12, 0, 0, tzinfo=UTC)),  # 7 is Sunday too
        ("20 30 15 7 12 *", datetime(2027, 12, 7, 15, 30, 20, tzinfo=UTC)),  # strictly after
    ],
)
def test_next_occurrence(expression: str, expected: datetime) -> None:
    assert Schedule.parse(expression).next_after(START) == expected


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("*/5 * * * *", "6 fields"),
        ("60 * * * * *", "second"),
        ("0 */0 * * * *", "minute"),
        ("0 0 5-2 * * *", "hour"),
        ("0 0 0 32 * *", "day"),
        ("0 0 0 * XYZ *", "month"),
        ("0 0 0 * * 8", "day-of-week"),
    ],
)
def test_bad_schedules_name_the_field(expression: str, field: str) -> None:
    with pytest.raises(ScheduleError, match=field):
        Schedule.parse(expression)


def test_an_impossible_date_never_fires() -> None:
    with pytest.raises(ScheduleError, match="never fires"):
        Schedule.parse("0 0 0 31 2 *").next_after(START)


# ---------------------------------------------------------------------------------------- schedule


def test_fires_when_due_and_flags_a_late_run_past_due(fixture: Any, env: dict[str, str]) -> None:
    clock = Clock()
    timer = _timer(fixture, env, "tick", clock)
    assert timer.expression == "0 */1 * * * *"  # resolved from %FIXTURE_TIMER_SCHEDULE%
    assert timer.next_due == datetime(2026, 12, 7, 15, 31, tzinfo=UTC)
    assert timer.run_due(datetime(2026, 12, 7, 15, 30, 59, tzinfo=UTC)) is False
    assert timer.run_due(datetime(2026, 12, 7, 15, 31, 0, tzinfo=UTC)) is True
    assert timer.run_due(datetime(2026, 12, 7, 15, 31, 0, tzinfo=UTC)) is False
    # Five minutes late (a host that was down): one run, past due; the backlog is not replayed.
    assert timer.run_due(datetime(2026, 12, 7, 15, 37, 0, tzinfo=UTC)) is True
    assert timer.next_due == datetime(2026, 12, 7, 15, 38, tzinfo=UTC)
    assert fixture.TICKS == [("tick", False), ("tick", True)]
    assert (timer.invocations, timer.failures) == (2, 0)


def test_the_runner_fires_timers_on_the_injected_clock(fixture: Any, env: dict[str, str]) -> None:
    clock = Clock()
    with LocalHost(fixture.build_app(), FAST, 0, environ=env, clock=clock) as host:
        assert {t.name for t in host.timers} == {"tick", "early", "boom"}
        assert fixture.TICKED["early"].wait(5)  # run_on_startup
        assert not fixture.TICKED["tick"].is_set()
        clock.set(datetime(2026, 12, 7, 15, 31, 0, tzinfo=UTC))
        assert fixture.TICKED["tick"].wait(5)
    assert ("tick", False) in fixture.TICKS and fixture.TICKS.count(("early", False)) == 1
    assert ("boom", False) not in fixture.TICKS


def test_a_missing_schedule_setting_is_named(fixture: Any, env: dict[str, str]) -> None:
    del env["FIXTURE_TIMER_SCHEDULE"]
    with pytest.raises(KeyError, match="FIXTURE_TIMER_SCHEDULE"):
        LocalHost(fixture.build_app(), FAST, 0, environ=env)


# ---------------------------------------------------------------------------------------- fire now


def test_fire_timer_runs_now_and_logs_one_line_per_invocation(
    fixture: Any, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devtools.localhost")
    host = LocalHost(fixture.build_app(), FAST, 0, environ=env, timers=False)
    assert host.fire_timer("tick") == "ok"
    assert host.fire_timer("boom") == "failed"
    assert host.fire_timer("tick", past_due=True) == "ok"
    assert fixture.TICKS == [("tick", False), ("boom", False), ("tick", True)]
    # fire_timer runs on this thread: only its lines, not a runner an earlier test left logging (tests/logs.py).
    lines = [r.getMessage() for r in own_records(caplog) if r.getMessage().startswith("invocation ")]
    assert [line.split()[1] for line in lines] == ["function=tick", "function=boom", "function=tick"]
    assert [line.split()[-1] for line in lines] == ["outcome=ok", "outcome=failed", "outcome=ok"]
    with pytest.raises(KeyError):
        host.fire_timer("work")
    host.stop(drain_seconds=1)
    assert "early" not in {name for name, _ in fixture.TICKS}  # timers=False: no startup run either


def test_admin_functions_endpoint_runs_timer_and_queue_functions(fixture: Any, env: dict[str, str]) -> None:
    with LocalHost(fixture.build_app(), FAST, 0, environ=env, timers=False) as host:
        status, _ = _post(f"{host.url}/admin/functions/tick", json.dumps({"input": ""}).encode())
        assert status == 202
        assert fixture.TICKED["tick"].wait(5)
        status, _ = _post(f"{host.url}/admin/functions/Work", json.dumps({"input": "hello"}).encode())
        assert status == 202
        assert host.listeners[0].name == "work"

        def seen_hello() -> bool:
            with fixture.SEEN_LOCK:
                return ("hello", 1) in fixture.SEEN

        done = threading.Event()
        for _ in range(100):
            if seen_hello() or done.wait(0.05):
                break
        assert seen_hello()
        assert _post(f"{host.url}/admin/functions/nope", b"{}")[0] == 404
        assert _post(f"{host.url}/admin/functions/echo", b"{}")[0] == 404  # HTTP functions: use /api
        assert _post(f"{host.url}/admin/functions/tick", b"", method="GET")[0] == 405
        assert _post(f"{host.url}/admin/functions/tick", b"{nope")[0] == 400
        assert _post(f"{host.url}/admin/functions/tick", b'{"input": 5}')[0] == 400
        assert _post(f"{host.url}/admin/functions/tick", b"")[0] == 202  # no body: input ""


def test_timer_request_shape() -> None:
    info = timer_request(True, START, START + timedelta(minutes=1), "0 */1 * * * *", START)
    assert isinstance(info, func.TimerRequest)
    assert info.past_due is True and info.schedule["Expression"] == "0 */1 * * * *"
    assert info.schedule_status["Next"] == "2026-12-07T15:31:20+00:00"
