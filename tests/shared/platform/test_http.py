"""JsonHttpClient against a scripted loopback server: inline retries, Retry-After, drops, 401
renewal, bodies, and no query string in any log line."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from logs import assert_never_logged, logged, own_records

from shared.platform.http import HttpResult, JsonHttpClient


class Scripted(ThreadingHTTPServer):
    """Answers each request with the next (status, headers, body) in `script`; "drop" closes the socket."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: list = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        step = self.server.script.pop(0) if self.server.script else (200, {}, b"{}")
        if step == "drop":
            self.connection.close()
            return
        status, headers, body = step
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Scripted]:
    srv = Scripted()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


class Renewing(JsonHttpClient):
    system = "testsys"

    def __init__(self, url: str, **options) -> None:
        super().__init__(url, read_error=lambda body: (body.get("code"), body.get("message")), **options)
        self.token = "first"
        self.renewals = 0

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def on_unauthorized(self) -> bool:
        self.renewals += 1
        self.token = "second"
        return True


def client(server: Scripted, pauses=(0.01, 0.01)) -> Renewing:
    return Renewing(server.url, inline_retry_pauses=pauses, read_timeout=1.0)


def test_bare_5xx_is_retried_inline_then_returned(server):
    server.script = [(503, {}, b'{"code":"X","message":"busy"}')] * 3
    result = client(server).get("/a", "op")
    assert (result.status, result.error_code, result.error_message) == (503, "X", "busy")
    assert len(server.seen) == 3


def test_5xx_with_retry_after_goes_to_the_queue_not_inline(server):
    server.script = [(503, {"Retry-After": "9"}, b"{}")]
    result = client(server).get("/a", "op")
    assert (result.status, result.retry_after) == (503, 9.0)
    assert len(server.seen) == 1


def test_429_is_never_retried_inline(server):
    server.script = [(429, {"Retry-After": "2"}, b"{}")]
    assert client(server).get("/a", "op").retry_after == 2.0
    assert len(server.seen) == 1


def test_drop_is_a_transport_failure_retried_inline(server):
    server.script = ["drop", "drop", "drop"]
    result = client(server).get("/a", "op")
    assert result.status is None and result.transport_error and not result.ok
    assert result.error_text == result.transport_error
    assert len(server.seen) == 3
    server.script = ["drop", (200, {}, b'{"ok": 1}')]
    assert client(server).get("/a", "op").body == {"ok": 1}


def test_401_renews_the_credential_once(server):
    server.script = [(401, {}, b"{}"), (401, {}, b"{}")]
    c = client(server)
    result = c.get("/a", "op")
    assert result.status == 401 and c.renewals == 1
    assert [seen[2]["Authorization"] for seen in server.seen] == ["Bearer first", "Bearer second"]


def test_bodies_lists_and_non_json(server):
    server.script = [(200, {}, b"[1, 2]"), (200, {}, b"not json"), (204, {}, b"")]
    c = client(server)
    assert c.get("/a", "op").body == {"value": [1, 2]}
    assert c.get("/a", "op").body == {}
    assert c.post("/a", "op", {"x": 1}) == HttpResult(status=204)


def test_no_query_and_no_credential_in_logs(server, caplog):
    caplog.set_level(logging.DEBUG)
    server.script = [(200, {}, b"{}")]
    client(server).get("/contacts", "contact_lookup", {"$filter": "mobilephone eq '+14155550123'"})
    assert "mobilephone" in server.seen[0][1]  # it was sent
    mine = own_records(caplog)
    assert_never_logged(mine, "4155550123", "Bearer", "first")
    assert logged(mine, "operation=contact_lookup")
