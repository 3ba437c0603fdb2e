"""The runner as an object: the app's HTTP triggers behind one server, a listener per queue trigger."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path

import azure.functions as func

from devtools.localhost.config import QueueOptions, app_functions, binding_type
from devtools.localhost.http import HttpFront, HttpRoute, make_http_server
from devtools.localhost.queue_listener import QueueListener


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
    ) -> None:
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
        self.front = HttpFront(functions, self.function_key)
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
        return self

    def stop(self, drain_seconds: float = 30.0) -> None:
        for listener in self.listeners:
            listener.stop(drain_seconds)
        if self._serve_thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LocalHost:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
