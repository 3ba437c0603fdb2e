"""Everything the relay talks to, built once per process in this one place and handed in.

The functions (the messaging webhook, the customer events at ingress, the relay queue, the
reconciliation timer, the handoff worker) call `process_deps()`; tests build their own
`RelayDeps.build(settings, clock=...)` and close it. A change of settings object (a test that
changes the environment) builds a new set, so nothing needs a reset hook.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.messaging.client import MessagingClient
from shared.messaging.lease import Leases
from shared.messaging.links import Links
from shared.messaging.outbox import Direction, Entry, Outbox
from shared.messaging.relay_message import RelayMessage
from shared.messaging.store import MessagingStore
from shared.opencx.client import OpenCXClient
from shared.platform.queues import QueueProfile, make_queue_client, send
from shared.platform.settings import Settings, get_settings
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


class FastPath:
    """Drains started in a background thread so the webhook answers at once (the queued drain is the
    safety net behind each). `close` waits for the ones running: at shutdown, and in tests."""

    def __init__(self, workers: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="relay-fast-path")
        self._running: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], Any]) -> None:
        future = self._pool.submit(work)
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._running.discard(future)

    def settle(self, timeout: float = 15.0) -> bool:
        """Wait until no drain runs; False if some still did after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._running:
                    return True
            time.sleep(0.01)
        return False

    def close(self, timeout: float = 15.0) -> None:
        self.settle(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)


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
    fast_path: FastPath
    clock: Callable[[], float] = time.time

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
            fast_path=FastPath(),
            clock=clock,
        )

    def close(self, timeout: float = 15.0) -> None:
        self.fast_path.close(timeout)
        self.store.close()
        self.opencx.close()
        if self.messaging is not None:
            self.messaging.close()


_process: RelayDeps | None = None
_process_lock = threading.Lock()


def process_deps() -> RelayDeps:
    """The process's one set, rebuilt when the settings object changes."""
    global _process
    settings = get_settings()
    with _process_lock:
        if _process is None or _process.settings is not settings:
            previous, _process = _process, RelayDeps.build(settings)
            if previous is not None:
                previous.fast_path.close(timeout=5.0)
        return _process


def shutdown_process_deps(timeout: float = 15.0) -> None:
    """Let the running fast-path drains finish and close the process's set (host shutdown, tests)."""
    global _process
    with _process_lock:
        current, _process = _process, None
    if current is not None:
        current.close(timeout)
