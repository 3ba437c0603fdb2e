"""A small, faithful stand-in for the Functions host (`func start`; README, "Running locally"): it reads
each function's own binding metadata, nothing is hard-coded per function. `LocalHost` is the runner as
an object: the app's HTTP triggers behind one server, a listener per queue and timer. `python -m
devtools.localhost` (main) loads settings, imports the app, prints what it serves as one JSON line,
serves until SIGINT/SIGTERM, then drains in-flight invocations and exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import azure.functions as func

from devtools.localhost.config import QueueOptions, app_functions, binding_type, load_local_settings, logger
from devtools.localhost.http import HttpFront, make_http_server
from devtools.localhost.queue_listener import QueueListener
from devtools.localhost.timer_listener import TimerListener, utc_now
from devtools.simkit.cli import serve_until_signal

__all__ = ["LocalHost", "QueueListener", "QueueOptions", "app_functions"]


class LocalHost:
    """`LocalHost(app, host_json, port).start()` ... `.stop()`; also a context manager. `clock` drives
    the timer schedules (tests inject one); `timers=False` keeps timers from firing on their own, so
    only `fire_timer` and the admin endpoint run them."""

    def __init__(
        self,
        app: func.FunctionApp,
        host_json: Path | QueueOptions | None = None,
        port: int = 7071,
        *,
        function_key: str | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utc_now,
        timers: bool = True,
    ) -> None:
        environ = os.environ if environ is None else environ
        options = host_json if isinstance(host_json, QueueOptions) else QueueOptions.from_host_json(host_json)
        self.function_key = function_key or environ.get("LOCAL_FUNCTION_KEY") or secrets.token_urlsafe(24)
        functions = app_functions(app)
        kinds = [(f, binding_type(f)) for f in functions]
        self.listeners = [QueueListener(f, options, environ) for f, kind in kinds if kind == "queueTrigger"]
        self.timers = [TimerListener(f, environ, clock) for f, kind in kinds if kind == "timerTrigger"]
        self.run_timers = timers
        self.front = HttpFront(functions, self.function_key)
        self.triggers: list[QueueListener | TimerListener] = [*self.listeners, *self.timers]
        self.front.admin_invokers = {t.name.lower(): t.invoke_input for t in self.triggers}
        self.server = make_http_server("127.0.0.1", port, self.front)
        self._serve_thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalHost:
        self._serve_thread.start()
        for trigger in self.triggers if self.run_timers else self.listeners:
            trigger.start()
        return self

    def fire_timer(self, name: str, past_due: bool = False) -> str:
        """Run a timer function now, in this thread; returns its outcome ("ok" or "failed")."""
        timers = {t.name.lower(): t for t in self.timers}
        if name.lower() not in timers:
            raise KeyError(f"no timer-triggered function {name}; timers: {sorted(timers)}")
        return timers[name.lower()].fire(past_due)

    def stop(self, drain_seconds: float = 30.0) -> None:
        logger.info("stopping: draining in-flight invocations")
        for trigger in self.triggers:
            trigger.stop(drain_seconds)
        if self._serve_thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LocalHost:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.localhost", description=__doc__)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--host-json", type=Path, default=Path("host.json"))
    parser.add_argument("--app", default="function_app", help="module that defines `app`")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every HTTP request at INFO
    loaded = load_local_settings(args.settings)
    host = LocalHost(importlib.import_module(args.app).app, args.host_json, args.port).start()
    functions = [r.function.get_function_name() for r in host.front.routes] + [t.name for t in host.triggers]
    info = {
        "url": host.url,
        "functions": functions,
        "queues": [q.queue_name for q in host.listeners],
        "timers": {t.name: t.expression for t in host.timers},
        "settings_loaded": loaded,
        **({} if "LOCAL_FUNCTION_KEY" in os.environ else {"function_key": host.function_key}),
    }
    return serve_until_signal(host, info)
