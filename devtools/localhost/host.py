"""The runner as an object: the app's HTTP triggers behind one server, a listener per queue trigger."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import azure.functions as func

from devtools.localhost.config import QueueOptions, app_functions, binding_type
from devtools.localhost.http import HttpFront, HttpRoute, make_http_server
from devtools.localhost.queue_listener import QueueListener
from devtools.localhost.timer_listener import TimerListener, utc_now


class LocalHost:
    """`LocalHost(app, host_json, port).start()` ... `.stop()`; also a context manager."""

    def __init__(
        self,
        app: func.FunctionApp,
        host_json: Path | QueueOptions | None = None,
        port: int = 7071,
        *,
        function_key: str | None = None,
        environ: Mapping[str, str] | None = None,
        bind: str = "127.0.0.1",
        clock: Callable[[], datetime] = utc_now,
        timers: bool = True,
    ) -> None:
        """`clock` drives the timer schedules (tests inject one); `timers=False` keeps the timers
        from firing on their own, so only `fire_timer` / the admin endpoint run them."""
        self.environ = os.environ if environ is None else environ
        self.options = (
            host_json if isinstance(host_json, QueueOptions) else QueueOptions.from_host_json(host_json)
        )
        self.function_key = (
            function_key or self.environ.get("LOCAL_FUNCTION_KEY") or secrets.token_urlsafe(24)
        )
        functions = app_functions(app)
        # Every queue trigger the app registers gets its own listener and %SETTING%-resolved queue.
        self.listeners = [
            QueueListener(f, self.options, self.environ)
            for f in functions
            if binding_type(f) == "queueTrigger"
        ]
        # Every timer trigger gets its schedule (%SETTING%-resolved); they fire in the background.
        self.timers = [
            TimerListener(f, self.environ, clock) for f in functions if binding_type(f) == "timerTrigger"
        ]
        self.run_timers = timers
        self.front = HttpFront(functions, self.function_key)
        for timer in self.timers:
            self.front.admin_invokers[timer.name.lower()] = _fire(timer)
        for listener in self.listeners:
            self.front.admin_invokers[listener.name.lower()] = listener.invoke_input
        self.server = make_http_server(bind, port, self.front)
        self._serve_thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    @property
    def routes(self) -> list[HttpRoute]:
        return self.front.routes

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalHost:
        self._serve_thread.start()
        for listener in self.listeners:
            listener.start()
        if self.run_timers:
            for timer in self.timers:
                timer.start()
        return self

    def timer(self, name: str) -> TimerListener:
        for timer in self.timers:
            if timer.name.lower() == name.lower():
                return timer
        raise KeyError(f"no timer-triggered function {name}; timers: {[t.name for t in self.timers]}")

    def fire_timer(self, name: str, past_due: bool = False) -> str:
        """Run a timer function now, in this thread; returns its outcome ("ok" or "failed")."""
        return self.timer(name).fire(past_due)

    def stop(self, drain_seconds: float = 30.0) -> None:
        for timer in self.timers:
            timer.stop(drain_seconds)
        for listener in self.listeners:
            listener.stop(drain_seconds)
        if self._serve_thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LocalHost:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _fire(timer: TimerListener) -> Callable[[str], str]:
    """The admin endpoint's invoker for a timer: fire it now, whatever the input."""
    return lambda _input: timer.fire()
