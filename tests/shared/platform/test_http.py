"""JsonHttpClient against a scripted loopback server: inline retries, Retry-After, drops, 401
renewal, bodies, and no query string in any log line."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from logs import assert_never_logged, logged, own_records

from shared.platform.http import AuthUnavailable, HttpResult, JsonHttpClient, Transport, transport_failure


class Scripted(ThreadingHTTPServer):
    """Answers each request with the next (status, headers, body) in `script`; "drop" closes the socket."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: list = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.released = threading.Event()

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
        if step == "hang":  # no answer until the test ends: the client's read timeout fires
            self.server.released.wait(10)
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
    srv.released.set()
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


# ------------------------------------------------------------------ transport failures, by type


class Counting(JsonHttpClient):
    """Counts attempts, including those that never reached a server."""

    system = "testsys"

    def __init__(self, url: str, *, no_token: bool = False, **options) -> None:
        super().__init__(url, **options)
        self.attempts = 0
        self.no_token = no_token

    def auth_headers(self) -> dict[str, str]:
        self.attempts += 1
        if self.no_token:
            raise AuthUnavailable("CredentialUnavailableError")
        return {}


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_connection_sent_nothing_so_even_an_unsafe_request_is_retried_inline():
    c = Counting(f"http://127.0.0.1:{closed_port()}", inline_retry_pauses=(0.01, 0.01))
    result = c.post("/send", "send", {"x": 1}, retry_drops=False)
    assert result.status is None and result.transport is Transport.CONNECT_FAILED
    assert result.transport.sent_nothing and result.transport_error == "ConnectionError"
    assert c.attempts == 3


def test_no_token_sent_nothing_and_is_retried_inline(server):
    c = Counting(server.url, no_token=True, inline_retry_pauses=(0.01,))
    result = c.post("/send", "send", {"x": 1}, retry_drops=False)
    assert result.transport is Transport.NO_TOKEN and result.transport.sent_nothing
    assert result.error_text == "CredentialUnavailableError"
    assert c.attempts == 2 and server.seen == []


def test_a_drop_after_sending_is_not_repeated_when_unsafe(server):
    server.script = ["drop", (200, {}, b"{}")]
    result = client(server).post("/send", "send", {"x": 1}, retry_drops=False)
    assert result.status is None and result.transport is Transport.DROPPED
    assert not result.transport.sent_nothing
    assert len(server.seen) == 1


def test_no_answer_in_time_is_a_timeout_not_repeated_when_unsafe(server):
    server.script = ["hang"]
    c = Renewing(server.url, inline_retry_pauses=(0.01,), read_timeout=0.2)
    result = c.post("/send", "send", {"x": 1}, retry_drops=False)
    assert result.transport is Transport.TIMEOUT and result.transport_error == "ReadTimeout"
    assert len(server.seen) == 1


def test_a_redirect_is_returned_not_followed(server):
    server.script = [(302, {"Location": "/elsewhere"}, b"")]
    result = client(server).get("/a", "op")
    assert result.status == 302 and not result.ok
    assert [seen[1] for seen in server.seen] == ["/a"]


def test_transport_kind_comes_from_the_exception_types_not_their_text():
    from urllib3.exceptions import (
        ConnectTimeoutError,
        MaxRetryError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
    )

    refused = MaxRetryError(None, "/", NewConnectionError(None, "refused"))  # type: ignore[arg-type]
    assert transport_failure(refused) == (Transport.CONNECT_FAILED, "ConnectionError")
    slow_connect = MaxRetryError(None, "/", ConnectTimeoutError("connect timed out"))  # type: ignore[arg-type]
    assert transport_failure(slow_connect) == (Transport.CONNECT_FAILED, "ConnectTimeout")
    read_timeout = ReadTimeoutError(None, "/", "read timed out")  # type: ignore[arg-type]
    assert transport_failure(read_timeout) == (Transport.TIMEOUT, "ReadTimeout")
    reset = ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    assert transport_failure(reset)[0] is Transport.DROPPED
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except ConnectionRefusedError as inner:
            raise ProtocolError("wrapped") from inner
    except ProtocolError as outer:
        assert transport_failure(outer)[0] is Transport.CONNECT_FAILED
    # Words in a message prove nothing: the old repr() check would have called this a refusal.
    lookalike = ProtocolError("NewConnectionError ConnectionRefused (quoted by a proxy)")
    assert transport_failure(lookalike)[0] is Transport.DROPPED


# ------------------------------------------------------------------ the environment, read once


def test_the_proxy_from_the_environment_is_used(server, monkeypatch):
    for name in ("http_proxy", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    c = Renewing("http://upstream.example", inline_retry_pauses=())
    assert c.get("/a", "op").ok
    assert server.seen[0][1] == "http://upstream.example/a"  # the proxy got the absolute URI


def test_no_proxy_is_honoured(server, monkeypatch):
    for name in ("http_proxy", "no_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert client(server).get("/a", "op").ok
    assert server.seen[0][1] == "/a"
