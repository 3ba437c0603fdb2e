"""Everything the relay talks to, built once per process in this one place and handed in.

The functions (the messaging webhook, the customer events at ingress, the relay queue, the
reconciliation timer, the handoff worker) call `process_deps()`, kept like every other shared
client by shared/platform/process.py; tests build their own `RelayDeps.build(settings, clock=...)`
and close it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from shared.media.policy import MediaPolicy, policy_for
from shared.messaging.client import MessagingClient
from shared.messaging.lease import Leases
from shared.messaging.links import Links
from shared.messaging.outbox import Direction, Entry, Outbox
from shared.messaging.relay_message import RelayMessage
from shared.messaging.store import MessagingStore
from shared.opencx.client import OpenCXClient
from shared.platform.background import BackgroundWork
from shared.platform.process import shared
from shared.platform.queues import QueueProfile, make_queue_client, send
from shared.platform.settings import Settings
from shared.platform.status_store import StoreProfile, make_table_client


@dataclass
class RelayQueue:
    """MESSAGING_QUEUE and its dead-letter queue. Every method raises QueueUnavailable."""

    settings: Settings
    _clients: dict[tuple[str, QueueProfile], Any] = field(default_factory=dict)

    def _client(self, name: str, profile: QueueProfile) -> Any:
        key = (name, profile)
        if key not in self._clients:
            self._clients[key] = make_queue_client(self.settings.storage, name, profile)
        return self._clients[key]

    def drain_later(
        self,
        conversation_id: str,
        direction: Direction,
        delay: int = 0,
        *,
        holder: str | None = None,
        profile: QueueProfile = QueueProfile.WORKER,
    ) -> None:
        message = RelayMessage(conversationId=conversation_id, direction=direction, holder=holder)
        send(
            self._client(self.settings.messaging_queue, profile),
            message.to_json(),
            visibility_timeout=delay or None,
        )

    def carry(self, entry: Entry, dedup_key: str) -> None:
        """The table is down: the entry travels in a queue message and is appended when it is back."""
        message = RelayMessage(
            type="activity", conversationId=entry.conversation_id, direction=entry.direction,
            dedupKey=dedup_key, entry=entry.fields(),
        )  # fmt: skip
        send(self._client(self.settings.messaging_queue, QueueProfile.INGRESS), message.to_json())


@dataclass
class RelayDeps:
    settings: Settings
    store: MessagingStore
    links: Links
    outbox: Outbox
    leases: Leases
    queue: RelayQueue
    opencx: OpenCXClient
    messaging: MessagingClient | None
    fast_path: BackgroundWork  # drains started so the webhook answers at once
    clock: Callable[[], float] = time.time

    @cached_property
    def media(self) -> MediaPolicy:
        """Which file URLs may be fetched, and within which caps (shared/media/policy.py)."""
        return policy_for(self.settings)

    @classmethod
    def build(cls, settings: Settings, *, clock: Callable[[], float] = time.time) -> RelayDeps:
        from shared.messaging.factory import build_messaging_client, build_relay_opencx_client
        from shared.platform.settings import DeliveryMode

        store = MessagingStore(
            make_table_client(settings.storage, settings.messaging_table, StoreProfile.WORKER)
        )
        messaging = (
            build_messaging_client(settings) if settings.delivery_mode is DeliveryMode.MESSAGING else None
        )
        return cls(
            settings=settings,
            store=store,
            links=Links(store),
            outbox=Outbox(store, clock),
            leases=Leases(store, clock),
            queue=RelayQueue(settings),
            opencx=build_relay_opencx_client(settings),
            messaging=messaging,
            fast_path=BackgroundWork(8, "relay-fast-path"),
            clock=clock,
        )

    def close(self, timeout: float = 15.0) -> None:
        self.fast_path.close(timeout)
        self.store.close()
        self.opencx.close()
        if self.messaging is not None:
            self.messaging.close()


def process_deps() -> RelayDeps:
    """The process's one set (shared/platform/process.py: rebuilt when the settings are loaded
    afresh, closed at shutdown)."""
    return shared(("relay-deps",), RelayDeps.build)
