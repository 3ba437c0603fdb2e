"""A stand-in for the bridge's messaging webhook, for the local stack and the tests: it validates
the token exactly as the app does (shared/messaging/token.py) and makes the two token_probe calls
the real webhook makes (`record_claims` / `record_rejection`). Nothing else: no outbox, no relay."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from shared.messaging import token_probe
from shared.messaging.token import TokenRejected, WebhookTokenValidator
from shared.platform.settings import Settings

ROUTE = re.compile(r"^/api/messaging/v3/conversations/(?P<id>[^/]+)/activities$")


class WebhookStandIn:
    def __init__(self, settings: Settings) -> None:
        m = settings.messaging
        self.settings = settings
        self.validator = WebhookTokenValidator(m.tenant_id, m.webhook_audience, jwks_url=m.jwks_url)
        self.statuses: list[int] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="golive-webhook")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/messaging"

    def start(self) -> WebhookStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, path: str, headers: dict[str, str]) -> int:
        match = ROUTE.match(path)
        if match is None:
            return 404
        conversation_id = unquote(match.group("id"))
        try:
            claims = self.validator.validate_headers(headers)
        except TokenRejected as exc:
            token_probe.record_rejection(headers, exc.reason, conversation_id, settings=self.settings)
            return 503 if exc.transient else 401
        token_probe.record_claims(claims, conversation_id, settings=self.settings)
        return 200


def _handler(stand_in: WebhookStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status = stand_in.handle(self.path, dict(self.headers.items()))
            stand_in.statuses.append(status)
            body = json.dumps({"status": status}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
