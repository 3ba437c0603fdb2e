"""Helpers shared by the Messaging API simulator's tests: a validating stand-in webhook and API calls."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from devtools.messaging_sim import MessagingSimulator
from shared.messaging.token import TokenRejected, WebhookTokenValidator

API = "/api/v1.0/consumer/"


class Webhook:
    """A loopback stand-in for the bridge's webhook: validates the token, records what it accepted."""

    def __init__(self) -> None:
        self.validator: WebhookTokenValidator | None = None
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[str] = []
        self.statuses: list[int] = []  # answers to give, in order; then 200
        self.delay = 0.0
        self.lock = threading.Lock()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = webhook.handle(self.path, dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/messaging"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        if self.delay:
            time.sleep(self.delay)
        assert self.validator is not None
        try:
            self.validator.validate_headers(headers)
        except TokenRejected as rejected:
            with self.lock:
                self.refused.append(rejected.reason)
            return 401
        with self.lock:
            if self.statuses:
                return self.statuses.pop(0)
            self.accepted.append((path, json.loads(body)))
        return 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def headers(sim: MessagingSimulator, **overrides: str) -> dict[str, str]:
    token, _ = sim.issue_token()
    base = {
        "Authorization": f"Bearer {token}",
        "channel-id": sim.channel_id,
        "organization-id": sim.organization_id,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v}


def create(sim: MessagingSimulator, customer_id: str = "conv-1", **extra: Any) -> requests.Response:
    body = {"customercontext": {"customerid": customer_id}, **extra}
    return requests.post(sim.url + API + "conversation/create", json=body, headers=headers(sim), timeout=5)


def send(sim: MessagingSimulator, conversation_id: str, activity: dict[str, Any]) -> requests.Response:
    url = sim.url + API + f"conversation/{conversation_id}"
    return requests.post(url, json=activity, headers=headers(sim), timeout=5)


def activities(webhook: Webhook) -> list[dict[str, Any]]:
    with webhook.lock:
        return [body for _, body in webhook.accepted]


@pytest.fixture(name="webhook")
def webhook_fixture() -> Iterator[Webhook]:
    """The bridge's webhook as the simulator's rep sees it (a loopback server recording deliveries)."""
    hook = Webhook()
    try:
        yield hook
    finally:
        hook.close()
