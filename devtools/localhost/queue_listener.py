"""One queue trigger driven against Azurite with the host.json `extensions.queues` semantics.

Polling backs off up to maxPollingInterval; up to batchSize messages are received at once and invoked
concurrently, and a new batch is fetched once in-flight work falls to newBatchThreshold. A message is
leased for visibilityTimeout (30 s when that is 0), renewed at half-time while it runs, so a slow
invocation never runs twice. Success deletes it; failure makes it visible again after
visibilityTimeout; after maxDequeueCount attempts it moves to `<queue>-poison`, as the WebJobs
QueueProcessor does. `start()`/`stop()` run it in the background; `drain()` in the calling thread."""

from __future__ import annotations

import base64
import contextlib
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import astuple, dataclass, field, replace
from typing import Any

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import ExponentialRetry, QueueClient

from devtools.localhost.config import QueueOptions, invoke, log_invocation, logger, resolve_setting

MIN_POLL_SECONDS = 0.1
_FULL_TICK_SECONDS = 0.005  # the host refills as soon as a slot frees up; a short tick keeps close


@dataclass
class _Lease:
    """An in-flight message. The lock orders renewals against the final delete/update."""

    message: Any
    pop_receipt: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    future: Future[None] | None = None


@dataclass
class QueueCounts:
    """What a listener did: invocations of the function, those that raised, messages poisoned."""

    invocations: int = 0
    failures: int = 0
    poisoned: int = 0


class QueueListener:
    """One queue trigger: poll, lease, invoke concurrently, then delete, release or poison."""

    def __init__(self, function: Any, options: QueueOptions, environ: Mapping[str, str]) -> None:
        trigger = function.get_trigger()
        self.function, self.name, self.trigger_arg = function, function.get_function_name(), trigger.name
        self.options = options
        self.queue_name = resolve_setting(trigger.queue_name, environ)
        setting = resolve_setting(getattr(trigger, "connection", None) or "AzureWebJobsStorage", environ)
        if not environ.get(setting):
            raise KeyError(f"connection setting {setting} for {self.name} is not set")
        # The SDK's default retry waits 15 s and more; the poll loop retries on its own schedule.
        # (The SDK annotates the waits as int but computes with floats: passed untyped.)
        retry: dict[str, Any] = {"initial_backoff": 0.25, "increment_base": 2, "random_jitter_range": 0.1}
        settings: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 30}
        settings["retry_policy"] = ExponentialRetry(**retry, retry_total=1)
        self.client, self.poison = (
            QueueClient.from_connection_string(environ[setting], name, **settings)
            for name in (self.queue_name, f"{self.queue_name}-poison")
        )
        self.leases: dict[str, _Lease] = {}
        self.leases_lock = threading.Lock()
        self.stopping = threading.Event()
        self._counts = QueueCounts()  # under leases_lock
        self._last_activity, self._queue_ready = time.monotonic(), False
        self._pool = ThreadPoolExecutor(1)  # replaced by _open()
        self._renew_stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._poller: threading.Thread | None = None

    @property
    def counts(self) -> QueueCounts:
        with self.leases_lock:
            return replace(self._counts)

    def start(self) -> None:
        self._open()
        self._poller = threading.Thread(target=self._poll, args=(lambda: False, math.inf), daemon=True)
        self._poller.start()

    def stop(self, drain_seconds: float = 30.0) -> None:
        """Stop polling, let in-flight invocations finish; anything left reappears after its lease."""
        self.stopping.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
        self._close(drain_seconds)

    def drain(
        self, *, idle_seconds: float = 1.0, timeout: float = 60.0, until: Callable[[], bool] | None = None
    ) -> QueueCounts:
        """Process the queue in this thread with the runner's semantics until `until()` (or, without it,
        `idle_seconds` with nothing received or running), polling `timeout` seconds at most and waiting
        for invocations already running; what this call did."""
        before, started = self.counts, time.monotonic()
        self._last_activity = started
        done = until or (
            lambda: not self._in_flight() and time.monotonic() - self._last_activity >= idle_seconds
        )
        max_wait = math.inf if until else idle_seconds / 4
        self._open()
        try:
            self._poll(lambda: time.monotonic() - started >= timeout or done(), max_wait)
        finally:
            self._close(drain_seconds=max(timeout - (time.monotonic() - started), 5.0))
        return QueueCounts(*(a - b for a, b in zip(astuple(self.counts), astuple(before), strict=True)))

    def _poll(self, done: Callable[[], bool], max_wait: float) -> None:
        delay = MIN_POLL_SECONDS
        while not self.stopping.is_set() and not done():
            received = self._poll_once()
            if received is None:
                self.stopping.wait(_FULL_TICK_SECONDS)
            elif received:
                delay = MIN_POLL_SECONDS
            else:
                self.stopping.wait(min(delay, max_wait))
                delay = min(delay * 2, max(self.options.max_polling_interval, MIN_POLL_SECONDS))

    def _open(self) -> None:
        self.stopping.clear()
        workers = self.options.batch_size + self.options.new_batch_threshold
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"queue-{self.queue_name}")
        self._renew_stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew_loop, args=(self._renew_stop,), daemon=True)
        self._renewer.start()

    def _close(self, drain_seconds: float) -> None:
        deadline = time.monotonic() + drain_seconds
        while self._in_flight() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self.leases_lock:  # never started: nothing to renew, the lease simply runs out
            self.leases = {k: v for k, v in self.leases.items() if not (v.future and v.future.cancelled())}
        self._renew_stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)

    def _in_flight(self) -> int:
        with self.leases_lock:
            return len(self.leases)

    def _poll_once(self) -> int | None:
        """Receive and dispatch one batch: how many messages came, None when the slots are full."""
        if self._in_flight() > self.options.new_batch_threshold:
            return None
        try:
            if not self._queue_ready:
                with contextlib.suppress(ResourceExistsError):
                    self.client.create_queue()
                self._queue_ready = True
            size, seconds = self.options.batch_size, self.options.lease_seconds
            received = self.client.receive_messages(
                messages_per_page=size, max_messages=size, visibility_timeout=seconds
            )
            batch: list[Any] = list(received)
        except Exception as exc:  # storage down: back off and try again, like the host
            logger.warning("queue %s unavailable: %s", self.queue_name, type(exc).__name__)
            self._queue_ready = False  # storage may come back empty (in-memory Azurite)
            return 0
        for message in batch:
            self._last_activity = time.monotonic()
            lease = _Lease(message, message.pop_receipt)
            with self.leases_lock:
                self.leases[message.id] = lease
            try:
                lease.future = self._pool.submit(self._process, lease)
            except RuntimeError:  # pool shut down while stopping: the message reappears after its lease
                self._forget(lease)
        return len(batch)

    def _forget(self, lease: _Lease) -> None:
        with self.leases_lock:
            self.leases.pop(lease.message.id, None)
        self._last_activity = time.monotonic()

    def _renew_loop(self, stop: threading.Event) -> None:
        """Keep leases alive at half-time, as the host does, so a slow invocation is not run twice.
        After `stop` it goes on while invocations still run, then returns."""
        seconds = self.options.lease_seconds
        while not stop.wait(max(0.5, seconds / 2)) or self._in_flight():
            with self.leases_lock:
                leases = [lease for lease in self.leases.values() if not lease.done]
            for lease in leases:
                try:
                    with lease.lock:
                        if not lease.done:
                            update = self.client.update_message
                            updated = update(lease.message.id, lease.pop_receipt, visibility_timeout=seconds)
                            lease.pop_receipt = updated.pop_receipt or lease.pop_receipt
                except Exception as exc:
                    logger.warning("lease renewal failed for %s: %s", lease.message.id, type(exc).__name__)

    def _count(self, what: str) -> None:
        with self.leases_lock:
            setattr(self._counts, what, getattr(self._counts, what) + 1)

    def _invoke(self, message: func.QueueMessage) -> str:
        self._count("invocations")
        outcome, _ = invoke(self.function, self.trigger_arg, message, str(message.id))
        if outcome != "ok":
            self._count("failures")
        return outcome

    def invoke_input(self, text: str) -> str:
        """Run the function once on `text` as a message body, bypassing the queue (Core Tools' admin
        invocation); returns the outcome. Nothing is enqueued, so nothing is retried or poisoned."""
        message = func.queue.QueueMessage(id=str(uuid.uuid4()), body=text.encode("utf-8"), dequeue_count=1)
        started, outcome = time.monotonic(), self._invoke(message)
        log_invocation(self.name, str(message.id), started, outcome)
        return outcome

    def _process(self, lease: _Lease) -> None:
        message, started = lease.message, time.monotonic()
        try:
            if message.dequeue_count > self.options.max_dequeue_count:
                outcome = "poisoned"  # dequeued too often without completing (a crashed host): unseen
            else:
                outcome = self._invoke(self._queue_message(message))
                if outcome == "failed" and message.dequeue_count >= self.options.max_dequeue_count:
                    outcome = "poisoned"
            settle = {"ok": self._delete, "failed": self._release, "poisoned": self._move_to_poison}
            with lease.lock:
                lease.done = True
                settle[outcome](lease)
            log_invocation(self.name, message.id, started, outcome)
        except Exception:
            logger.exception("could not settle message %s; it reappears after its lease", message.id)
        finally:
            self._forget(lease)

    def _queue_message(self, message: Any) -> func.QueueMessage:
        content: str = message.content or ""  # the SDK decodes nothing: the host's messageEncoding does
        return func.queue.QueueMessage(
            id=message.id,
            body=base64.b64decode(content) if self.options.message_encoding == "base64" else content.encode(),
            dequeue_count=message.dequeue_count,
            pop_receipt=message.pop_receipt,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
        )

    def _delete(self, lease: _Lease) -> None:
        self.client.delete_message(lease.message.id, lease.pop_receipt)

    def _release(self, lease: _Lease) -> None:
        """Failure: the message becomes visible again after visibilityTimeout (0 = now)."""
        timeout = round(self.options.visibility_timeout)
        self.client.update_message(lease.message.id, lease.pop_receipt, visibility_timeout=timeout)

    def _move_to_poison(self, lease: _Lease) -> None:
        with contextlib.suppress(ResourceExistsError):  # rare enough to ask every time
            self.poison.create_queue()
        self.poison.send_message(lease.message.content)
        logger.error("message %s moved to %s", lease.message.id, self.poison.queue_name)
        self._count("poisoned")
        self._delete(lease)
