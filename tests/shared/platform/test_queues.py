import time

import pytest
from azure.storage.queue import QueueClient

from devtools.azurite import connection_string, free_port
from shared.platform.queues import QueueProfile, QueueUnavailable, make_queue_client, send, withdraw
from shared.platform.settings import StorageConnection


def test_send_creates_a_missing_queue_and_encodes_base64(azurite, queue_name):
    storage = StorageConnection(connection_string=azurite.connection_string)
    client = make_queue_client(storage, queue_name, QueueProfile.INGRESS)
    send(client, '{"hello": "wörld"}')
    raw = QueueClient.from_connection_string(azurite.connection_string, queue_name)
    [message] = raw.receive_messages(max_messages=5)
    import base64

    assert base64.b64decode(message.content).decode() == '{"hello": "wörld"}'


def test_unreachable_storage_fails_fast_with_queue_unavailable(queue_name):
    dead = free_port()
    storage = StorageConnection(connection_string=connection_string(dead, dead, dead))
    client = make_queue_client(storage, queue_name, QueueProfile.INGRESS)
    started = time.monotonic()
    with pytest.raises(QueueUnavailable):
        send(client, "{}")
    assert time.monotonic() - started < 10


def test_identity_based_client_uses_service_uri():
    storage = StorageConnection(queue_service_uri="https://acct.queue.core.windows.net", client_id=None)
    client = make_queue_client(storage, "handoffs", QueueProfile.WORKER)
    assert client.url == "https://acct.queue.core.windows.net/handoffs"


def _proxy_env(monkeypatch: pytest.MonkeyPatch, no_proxy: str | None) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    if no_proxy:
        monkeypatch.setenv("NO_PROXY", no_proxy)


def test_the_environment_proxy_is_read_when_the_client_is_made(azurite, queue_name, monkeypatch):
    """Read once per client (not on every request), but still honoured: through a dead proxy the
    send fails, and NO_PROXY for the account's host lets it through."""
    storage = StorageConnection(connection_string=azurite.connection_string)
    _proxy_env(monkeypatch, None)
    with pytest.raises(QueueUnavailable):
        send(make_queue_client(storage, queue_name, QueueProfile.INGRESS), "{}")
    _proxy_env(monkeypatch, "127.0.0.1")
    send(make_queue_client(storage, queue_name, QueueProfile.INGRESS), "{}")


def test_withdraw_deletes_a_sent_message_unless_a_consumer_holds_it(azurite, queue_name):
    storage = StorageConnection(connection_string=azurite.connection_string)
    client = make_queue_client(storage, queue_name, QueueProfile.INGRESS)
    assert withdraw(client, send(client, "{}"))
    assert list(client.peek_messages(max_messages=5)) == []
    taken = send(client, "{}")
    [held] = client.receive_messages(max_messages=1, visibility_timeout=30)  # a worker got it first
    assert not withdraw(client, taken)
    client.delete_message(held)


def test_storage_clients_read_the_ca_bundle_once_from_the_environment(monkeypatch):
    from shared.platform.sdk_transport import sdk_http_options

    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp-ca.pem")
    options = sdk_http_options("https://account.queue.core.windows.net", 2.0, 2.5)
    config = options["transport"].connection_config
    assert (config.verify, config.timeout, config.read_timeout) == ("/etc/ssl/corp-ca.pem", 2.0, 2.5)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert (
        sdk_http_options("https://account.queue.core.windows.net", 2.0, 2.5)[
            "transport"
        ].connection_config.verify
        is True
    )
