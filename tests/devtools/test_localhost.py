"""The local runner against a tiny fixture app: HTTP mapping and keys, queue semantics, stop."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import logging
import socket
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from devtools.localhost import LocalHost, QueueListener, QueueOptions, app_functions
from devtools.localhost.config import load_local_settings, parse_timespan, resolve_setting
from devtools.localhost.http import MAX_BODY_BYTES, HttpFront, make_http_server

KEY = "test-key-123"
FAST = QueueOptions(
    max_polling_interval=0.2, visibility_timeout=0, batch_size=4, new_batch_threshold=2, max_dequeue_count=3
)


def _fixture_module():
    spec = importlib.util.spec_from_file_location("fixture_app", Path(__file__).parent / "fixture_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fixture():
    return _fixture_module()


@pytest.fixture
def env(azurite) -> dict[str, str]:
    return {
        "FIXTURE_QUEUE": f"fixture-{uuid.uuid4().hex[:10]}",
        "FIXTURE_RELAY_QUEUE": f"relay-{uuid.uuid4().hex[:10]}",
        "FIXTURE_STORAGE": azurite.connection_string,
        "FIXTURE_TIMER_SCHEDULE": "0 0 0 1 1 *",
    }


@pytest.fixture
def host(fixture, env):
    runner = LocalHost(fixture.build_app(), FAST, 0, function_key=KEY, environ=env).start()
    yield runner
    runner.stop(drain_seconds=5)


def _request(url: str, method: str = "POST", body: bytes = b"", headers: dict | None = None):
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read().decode(),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()


def _queue(env: dict[str, str], suffix: str = "", setting: str = "FIXTURE_QUEUE"):
    from azure.storage.queue import QueueClient

    return QueueClient.from_connection_string(env["FIXTURE_STORAGE"], env[setting] + suffix)


def _enqueue(env: dict[str, str], text: str, setting: str = "FIXTURE_QUEUE") -> str:
    """Send `text`; the queue's id for the message, which the runner's invocation lines carry."""
    from azure.core.exceptions import ResourceExistsError

    client = _queue(env, setting=setting)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    return client.send_message(base64.b64encode(text.encode()).decode()).id


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _peek(env: dict[str, str], suffix: str = "", setting: str = "FIXTURE_QUEUE") -> list[str]:
    """Message contents (as stored), [] when the queue does not exist."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return [m.content for m in _queue(env, suffix, setting).peek_messages(max_messages=32)]
    except ResourceNotFoundError:
        return []


# ------------------------------------------------------------------------------------------ HTTP


def test_route_params_query_body_and_response_are_mapped(host):
    status, headers, body = _request(
        f"{host.url}/api/items/42?q=hi", body=b"hello", headers={"x-functions-key": KEY}
    )
    assert status == 201
    assert body == "POST 42 hi hello echo"
    assert headers["x-echo"] == "yes"
    assert headers["content-type"].startswith("text/plain")


def test_unknown_route_is_404_and_wrong_method_405(host):
    assert _request(f"{host.url}/api/nothing-here", headers={"x-functions-key": KEY})[0] == 404
    assert _request(f"{host.url}/items/42", headers={"x-functions-key": KEY})[0] == 404
    assert _request(f"{host.url}/api/items/42", method="GET", headers={"x-functions-key": KEY})[0] == 405


@pytest.mark.parametrize(
    ("suffix", "headers", "expected"),
    [
        ("", {}, 401),
        ("", {"x-functions-key": "wrong"}, 401),
        ("?code=wrong", {}, 401),
        ("", {"x-functions-key": KEY}, 201),
        (f"?code={KEY}", {}, 201),
    ],
)
def test_function_key_is_required(host, suffix, headers, expected):
    assert _request(f"{host.url}/api/items/1{suffix}", body=b"x", headers=headers)[0] == expected


def test_anonymous_route_needs_no_key(host):
    status, _, body = _request(f"{host.url}/api/open", method="GET")
    assert status == 200
    assert json.loads(body) == {"ok": True}


def _raw(host, request: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes as they are (no client library to fix them up) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", host.port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _post(path: str, headers: str, body: bytes = b"") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode() + body


def test_chunked_body_is_read_whole_and_never_taken_for_a_next_request(host):
    chunks = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    response = _raw(
        host, _post("/api/items/7", f"x-functions-key: {KEY}\r\nTransfer-Encoding: chunked\r\n", chunks)
    )
    assert _status(response) == 201
    assert response.endswith(b"POST 7  hello world echo")
    assert response.count(b"HTTP/1.") == 1  # one request, one answer, then the connection closes


def test_chunked_body_reaches_an_anonymous_route_without_a_key(host):
    body = b"x" * 70_000  # more than one read
    chunks = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    response = _raw(host, _post("/api/hook", "Transfer-Encoding: chunked\r\n", chunks))
    assert _status(response) == 200
    assert response.endswith(b"70000 xxxxxxxxxxxxxxxx")


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "0x10", " ", "5, 5"])
def test_content_length_that_is_not_a_number_is_400(host, length):
    response = _raw(
        host, _post("/api/items/1", f"x-functions-key: {KEY}\r\nContent-Length: {length}\r\n", b"hello")
    )
    assert _status(response) == 400


def test_huge_declared_content_length_is_413_without_reading_it(host):
    started = time.monotonic()
    response = _raw(
        # Part of the body sent, then the client waits: the runner must answer and close, not wait for the rest.
        host,
        _post("/api/items/1", f"x-functions-key: {KEY}\r\nContent-Length: 99999999999\r\n", b"x" * 100_000),
    )
    assert _status(response) == 413
    assert time.monotonic() - started < 3


def test_body_over_the_limit_is_413_and_at_the_limit_is_served(host):
    at_limit = _request(f"{host.url}/api/hook", body=b"y" * MAX_BODY_BYTES)
    assert at_limit[0] == 200 and at_limit[2].startswith(f"{MAX_BODY_BYTES} ")
    assert _request(f"{host.url}/api/hook", body=b"y" * (MAX_BODY_BYTES + 1))[0] == 413


def test_chunked_body_over_the_limit_is_413(host):
    piece = b"z" * 65536
    chunks = (b"%x\r\n" % len(piece) + piece + b"\r\n") * (MAX_BODY_BYTES // len(piece) + 1) + b"0\r\n\r\n"
    assert _status(_raw(host, _post("/api/hook", "Transfer-Encoding: chunked\r\n", chunks))) == 413


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ("Transfer-Encoding: chunked\r\n", b"zz\r\nhello\r\n0\r\n\r\n", 400),  # not a hex size
        ("Transfer-Encoding: chunked\r\n", b"5\r\nhelloXX0\r\n\r\n", 400),  # no chunk terminator
        ("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"5\r\nhello\r\n0\r\n\r\n", 400),
        ("Transfer-Encoding: gzip\r\n", b"hello", 501),
        ("Content-Length: 10\r\n", b"short", 400),  # the client closes before the declared length
    ],
)
def test_malformed_framing_is_refused(host, headers, body, expected):
    with socket.create_connection(("127.0.0.1", host.port), timeout=5) as sock:
        sock.sendall(_post("/api/hook", headers, body))
        sock.shutdown(socket.SHUT_WR)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert _status(response) == expected


@pytest.mark.parametrize(
    ("raw", "value"),
    [("a%20b", "a b"), ("caf%C3%A9", "caf\u00e9"), ("100%25", "100%"), ("a%2Fb", "a%2Fb")],
)
def test_route_values_are_percent_decoded(host, raw, value):
    status, _, body = _request(f"{host.url}/api/items/{raw}", body=b"x", headers={"x-functions-key": KEY})
    assert status == 201
    assert body == f"POST {value}  x echo"  # an encoded slash stays inside its value, as in Kestrel


# --------------------------------------------------------------------------------------- settings


def test_setting_names_are_resolved_from_the_environment(fixture, env):
    runner = LocalHost(fixture.build_app(), FAST, 0, function_key=KEY, environ=env)
    try:
        queues = {listener.name: listener.queue_name for listener in runner.listeners}
        assert queues == {"work": env["FIXTURE_QUEUE"], "relay": env["FIXTURE_RELAY_QUEUE"]}
    finally:
        runner.server.server_close()
    assert resolve_setting("%A%-x-%B%", {"A": "1", "B": "2"}) == "1-x-2"
    with pytest.raises(KeyError, match="FIXTURE_QUEUE"):
        LocalHost(fixture.build_app(), FAST, 0, environ={"FIXTURE_STORAGE": env["FIXTURE_STORAGE"]})
    without_relay = {k: v for k, v in env.items() if k != "FIXTURE_RELAY_QUEUE"}
    with pytest.raises(KeyError, match="FIXTURE_RELAY_QUEUE"):
        LocalHost(fixture.build_app(), FAST, 0, environ=without_relay)


def test_host_json_and_local_settings_are_read(tmp_path):
    host_json = tmp_path / "host.json"
    host_json.write_text(
        json.dumps(
            {"extensions": {"queues": {"maxPollingInterval": "00:00:02", "visibilityTimeout": "00:01:30"}}}
        )
    )
    options = QueueOptions.from_host_json(host_json)
    assert (options.max_polling_interval, options.visibility_timeout, options.batch_size) == (2.0, 90.0, 16)
    assert options.new_batch_threshold == 8  # the host's default: half the batch size
    assert parse_timespan("1.00:00:01") == 86401
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": {"KEEP": "file", "NEW": "file"}}))
    environ = {"KEEP": "env"}
    assert load_local_settings(settings, environ) == 1
    assert environ == {"KEEP": "env", "NEW": "file"}


# ----------------------------------------------------------------------------------------- queues


def test_success_is_invoked_once_with_dequeue_count_and_deleted(host, fixture, env):
    _enqueue(env, "ok-1")
    _wait(lambda: ("ok-1", 1) in fixture.SEEN and not _peek(env))
    time.sleep(0.5)
    assert fixture.SEEN == [("ok-1", 1)]
    assert _peek(env, "-poison") == []


def test_failure_is_retried_with_rising_dequeue_count_then_poisoned(host, fixture, env, caplog):
    caplog.set_level(logging.INFO, logger="devtools.localhost")
    message_id = _enqueue(env, "fail-1")

    # The listener moves the message, then logs the move: wait for both, not only the first.
    # Only this message's records: a runner an earlier test started may still be logging (tests/logs.py).
    def mine() -> list[logging.LogRecord]:
        return [r for r in caplog.records if f"id={message_id} " in r.getMessage()]

    _wait(lambda: _peek(env, "-poison") and any("outcome=poisoned" in r.getMessage() for r in mine()))
    assert fixture.SEEN == [("fail-1", 1), ("fail-1", 2), ("fail-1", 3)]  # maxDequeueCount attempts
    outcomes = [r.getMessage().rsplit("outcome=", 1)[1] for r in mine() if "outcome=" in r.getMessage()]
    assert outcomes == ["failed", "failed", "poisoned"]  # moved right after the last failed attempt
    assert [base64.b64decode(c).decode() for c in _peek(env, "-poison")] == ["fail-1"]
    _wait(lambda: not _peek(env))


def test_message_dequeued_too_often_is_poisoned_without_invocation(fixture, env):
    _enqueue(env, "crashed-1")
    client = _queue(env)
    for _ in range(FAST.max_dequeue_count):  # a host that crashed each time: count rises, no delete
        assert list(client.receive_messages(visibility_timeout=1))
        time.sleep(1.1)
    runner = LocalHost(fixture.build_app(), FAST, 0, function_key=KEY, environ=env).start()
    try:
        _wait(lambda: _peek(env, "-poison"))
    finally:
        runner.stop(drain_seconds=5)
    assert fixture.SEEN == []


def test_stop_finishes_in_flight_invocations(fixture, env):
    runner = LocalHost(fixture.build_app(), FAST, 0, function_key=KEY, environ=env).start()
    _enqueue(env, "slow-1")
    _wait(lambda: fixture.SEEN)
    started = time.monotonic()
    runner.stop(drain_seconds=10)
    assert time.monotonic() - started >= fixture.SLOW_SECONDS / 2  # it waited for the invocation
    assert _peek(env) == []  # and completed it
    _enqueue(env, "after-stop")
    time.sleep(0.5)
    assert [body for body, _ in fixture.SEEN] == ["slow-1"]  # nothing polled after stop


def test_every_queue_trigger_is_driven_on_its_own_queue(host, fixture, env):
    _enqueue(env, "r-1", setting="FIXTURE_RELAY_QUEUE")
    _enqueue(env, "ok-2")
    _wait(lambda: len(fixture.SEEN) == 2)
    assert sorted(fixture.SEEN) == [("ok-2", 1), ("relay:r-1", 1)]
    _wait(lambda: not _peek(env) and not _peek(env, setting="FIXTURE_RELAY_QUEUE"))


# ------------------------------------------------------------------------------------------ drain


def _listener(fixture, env, name: str = "work", **options) -> QueueListener:
    function = next(f for f in app_functions(fixture.build_app()) if f.get_function_name() == name)
    return QueueListener(function, QueueOptions(**(vars(FAST) | options)), env)


def test_drain_processes_what_is_there_and_returns_counts(fixture, env):
    for text in ("ok-a", "ok-b", "fail-c"):
        _enqueue(env, text)
    counts = _listener(fixture, env).drain(idle_seconds=0.5, timeout=30)
    assert (counts.invocations, counts.failures, counts.poisoned) == (5, 3, 1)  # fail-c: 3 attempts
    assert sorted(body for body, _ in fixture.SEEN) == ["fail-c"] * 3 + ["ok-a", "ok-b"]
    assert _peek(env) == []
    assert [base64.b64decode(c).decode() for c in _peek(env, "-poison")] == ["fail-c"]


def test_drain_renews_the_lease_so_a_slow_message_runs_once(fixture, env):
    _enqueue(env, "slow-lease")  # 1.5 s of work on a 1 s lease: only renewal keeps it hidden
    counts = _listener(fixture, env, visibility_timeout=1.0).drain(idle_seconds=1.0, timeout=30)
    assert counts.invocations == 1
    assert fixture.SEEN == [("slow-lease", 1)]


def test_drain_stops_when_until_is_true(fixture, env):
    _enqueue(env, "ok-until")
    started = time.monotonic()
    counts = _listener(fixture, env).drain(timeout=20, until=lambda: bool(fixture.SEEN))
    assert counts.invocations == 1 and time.monotonic() - started < 10


def test_signed_chunked_webhook_is_accepted_by_the_real_trigger(bridge_env, monkeypatch):
    """The hostile run's case: the body arrives chunked, the signature must verify over all of it."""
    import threading

    from helpers import SAMPLES, reset_process_caches

    from devtools.send_handoff import DEV_WEBHOOK_SECRET

    monkeypatch.setenv("OPENCX_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)  # a signature is required
    reset_process_caches()

    import function_app
    from devtools.send_handoff import signed_headers

    body = (SAMPLES / "handoff-sms.json").read_bytes()
    server = make_http_server("127.0.0.1", 0, HttpFront(app_functions(function_app.app), KEY))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        headers = "".join(f"{k}: {v}\r\n" for k, v in signed_headers(body).items())
        half = len(body) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:])) + b"0\r\n\r\n"
        request = _post(
            "/api/handoffs", f"x-functions-key: {KEY}\r\n{headers}Transfer-Encoding: chunked\r\n", chunks
        )
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as sock:
            sock.sendall(request)
            response = b""
            while chunk := sock.recv(65536):
                response += chunk
    finally:
        server.shutdown()
        server.server_close()
    assert _status(response) == 202, response[:400]
