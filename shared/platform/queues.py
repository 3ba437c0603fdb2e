"""Queue clients on the host's storage account, and a send that survives a missing queue.

Ingress must answer within 10 s even when storage is down, so its client has tight timeouts
and one retry; the SDK's defaults retry for over a minute. The worker can afford a little more.
The azure-storage-queue SDK is imported on first use, which keeps the app's cold start light.
"""

from __future__ import annotations

import contextlib
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.platform.credentials import shared_credential
from shared.platform.settings import StorageConnection, get_settings

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient


class QueueProfile(Enum):
    """(connect timeout s, read timeout s, retries): bounded so a caller's deadline holds."""

    INGRESS = (2.0, 2.5, 1)
    WORKER = (3.0, 10.0, 2)


class QueueUnavailable(Exception):
    """The message could not be durably written. The caller must not report success."""


def make_queue_client(storage: StorageConnection, queue_name: str, profile: QueueProfile) -> QueueClient:
    """A base64-encoding QueueClient (host.json messageEncoding) with the profile's bounds."""
    from azure.storage.queue import (
        ExponentialRetry,
        LinearRetry,
        QueueClient,
        TextBase64DecodePolicy,
        TextBase64EncodePolicy,
    )

    connect_timeout, read_timeout, retries = profile.value
    options: dict[str, Any] = {
        "message_encode_policy": TextBase64EncodePolicy(),
        "message_decode_policy": TextBase64DecodePolicy(),
        # Ingress: one retry 0.3 s later, so a dead or silent account still answers 503 well within
        # the 10 s budget. The worker can wait longer (its caller is the queue, not OpenCX).
        # The SDK annotates these pauses as int but sleeps them as given: sub-second pauses are the point.
        "retry_policy": LinearRetry(backoff=0.3, random_jitter_range=0.1, retry_total=retries)  # type: ignore[arg-type]
        if profile is QueueProfile.INGRESS
        else ExponentialRetry(
            initial_backoff=0.25,  # type: ignore[arg-type]
            increment_base=2,
            retry_total=retries,
            random_jitter_range=0.2,  # type: ignore[arg-type]
        ),
        "connection_timeout": connect_timeout,
        "read_timeout": read_timeout,
    }
    if storage.connection_string:
        connection_string = storage.connection_string

        def build(**extra: Any) -> QueueClient:
            return QueueClient.from_connection_string(connection_string, queue_name, **options, **extra)
    else:
        credential = shared_credential(storage.client_id)

        def build(**extra: Any) -> QueueClient:
            return QueueClient(
                storage.queue_service_uri or "", queue_name, credential=credential, **options, **extra
            )

    # The transport needs the endpoint (for NO_PROXY): a first client, never used, tells it.
    from shared.platform.sdk_transport import sdk_http_options

    return build(**sdk_http_options(build().url, connect_timeout, read_timeout))


@lru_cache(maxsize=16)
def queue_client(queue_name: str, profile: QueueProfile) -> QueueClient:
    """One pooled client per queue and profile per process."""
    return make_queue_client(get_settings().storage, queue_name, profile)


# Work messages never expire: the queue's default of 7 days would silently drop a handoff that
# waits for an operator over a long weekend.
NEVER_EXPIRES = -1


class Sent(NamedTuple):
    """A sent message: what it takes to withdraw it again."""

    id: str
    pop_receipt: str


def send(
    client: QueueClient,
    text: str,
    visibility_timeout: int | None = None,
    time_to_live: int | None = NEVER_EXPIRES,
) -> Sent:
    """Send; create the queue once if it does not exist yet (Azurite)."""
    from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

    try:
        try:
            sent = client.send_message(text, visibility_timeout=visibility_timeout, time_to_live=time_to_live)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()
            sent = client.send_message(text, visibility_timeout=visibility_timeout, time_to_live=time_to_live)
    except AzureError as exc:
        raise QueueUnavailable(f"{type(exc).__name__} on queue {client.queue_name}") from exc
    return Sent(str(sent.id), str(sent.pop_receipt))


def withdraw(client: QueueClient, sent: Sent) -> bool:
    """Delete a message this process just sent. False when it could not be (a consumer already
    holds it, or storage is down): callers use this only where a leftover copy is harmless."""
    from azure.core.exceptions import AzureError

    try:
        client.delete_message(sent.id, sent.pop_receipt)
    except AzureError:
        return False
    return True
