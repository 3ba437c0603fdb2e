"""The local runner against a tiny fixture app: HTTP mapping and keys, queue semantics, stop."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from devtools.localhost import LocalHost, QueueOptions, load_local_settings, parse_timespan, resolve_setting

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
    return {"FIXTURE_QUEUE": f"fixture-{uuid.uuid4().hex[:10]}", "FIXTURE_STORAGE": azurite.connection_string}


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


def _queue(env: dict[str, str], suffix: str = ""):
    from azure.storage.queue import QueueClient

    return QueueClient.from_connection_string(env["FIXTURE_STORAGE"], env["FIXTURE_QUEUE"] + suffix)


def _enqueue(env: dict[str, str], text: str) -> None:
    from azure.core.exceptions import ResourceExistsError

    client = _queue(env)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    client.send_message(base64.b64encode(text.encode()).decode())


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _peek(env: dict[str, str], suffix: str = "") -> list[str]:
    """Message contents (as stored), [] when the queue does not exist."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return [m.content for m in _queue(env, suffix).peek_messages(max_messages=32)]
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


# --------------------------------------------------------------------------------------- settings


def test_setting_names_are_resolved_from_the_environment(fixture, env):
    runner = LocalHost(fixture.build_app(), FAST, 0, function_key=KEY, environ=env)
    try:
        assert [listener.queue_name for listener in runner.listeners] == [env["FIXTURE_QUEUE"]]
    finally:
        runner.server.server_close()
    assert resolve_setting("%A%-x-%B%", {"A": "1", "B": "2"}) == "1-x-2"
    with pytest.raises(KeyError, match="FIXTURE_QUEUE"):
        LocalHost(fixture.build_app(), FAST, 0, environ={"FIXTURE_STORAGE": env["FIXTURE_STORAGE"]})


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
    _enqueue(env, "fail-1")
    _wait(lambda: _peek(env, "-poison"))
    assert fixture.SEEN == [("fail-1", 1), ("fail-1", 2), ("fail-1", 3)]  # maxDequeueCount attempts
    outcomes = [
        r.getMessage().rsplit("outcome=", 1)[1] for r in caplog.records if "outcome=" in r.getMessage()
    ]
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
