"""One queue trigger driven against Azurite with the host.json `extensions.queues` semantics.

Polling backs off up to maxPollingInterval; up to batchSize messages are received at once and
invoked concurrently, and a new batch is fetched once in-flight work falls to newBatchThreshold.
A received message is leased for visibilityTimeout (30 s when that is 0) and the lease is renewed
at half-time while the invocation runs, so a slow invocation is never run twice. Success deletes
the message; failure makes it visible again after visibilityTimeout; after maxDequeueCount failed
attempts it moves to `<queue>-poison` (as the WebJobs QueueProcessor does).

Two ways to run it: `start()`/`stop()` in the background (the runner), or `drain()` in the calling
thread until the queue is idle (tests and tools that want "process what is there, then return").
"""

from __future__ import annotations

import base64
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import astuple, dataclass, field, replace
from typing import Any

import azure.functions as func

from devtools.localhost.config import QueueOptions, resolve_setting
from devtools.localhost.invocation import call_user_function, log_invocation, logger

MIN_POLL_SECONDS = 0.1
_FULL_TICK_SECONDS = 0.005  # the host refills as soon as a slot frees up; a short tick keeps close


def _client_options() -> dict[str, Any]:
    """The SDK's default retry waits 15 s and more; the poll loop retries on its own schedule."""
    from azure.storage.queue import ExponentialRetry

    # The SDK annotates these as int but computes with floats; a quarter second is what a poll loop wants.
    retry = ExponentialRetry(
        initial_backoff=0.25,  # type: ignore[arg-type]
        increment_base=2,
        retry_total=1,
        random_jitter_range=0.1,  # type: ignore[arg-type]
    )
    return {"connection_timeout": 5, "read_timeout": 30, "retry_policy": retry}


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

    def minus(self, other: QueueCounts) -> QueueCounts:
        return QueueCounts(
            *(mine - theirs for mine, theirs in zip(astuple(self), astuple(other), strict=True))
        )


class QueueListener:
    """One queue trigger: poll, lease, invoke concurrently, then delete, release or poison."""

    def __init__(self, function: Any, options: QueueOptions, environ: Mapping[str, str]) -> None:
        from azure.storage.queue import QueueClient

        trigger = function.get_trigger()
        self.function = function
        self.trigger_arg = trigger.name
        self.options = options
        self.queue_name = resolve_setting(trigger.queue_name, environ)
        connection_name = resolve_setting(
            getattr(trigger, "connection", None) or "AzureWebJobsStorage", environ
        )
        connection = environ.get(connection_name)
        if not connection:
            raise KeyError(
                f"connection setting {connection_name} for {function.get_function_name()} is not set"
            )
        self.client = QueueClient.from_connection_string(connection, self.queue_name, **_client_options())
        self.poison = QueueClient.from_connection_string(
            connection, f"{self.queue_name}-poison", **_client_options()
        )
        self.leases: dict[str, _Lease] = {}
        self.leases_lock = threading.Lock()
        self.stopping = threading.Event()
        self._counts = QueueCounts()
        self._counts_lock = threading.Lock()
        self._last_activity = time.monotonic()
        self._queue_ready = False
        self._pool: ThreadPoolExecutor | None = None
        self._renew_stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._poller: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.function.get_function_name()

    @property
    def counts(self) -> QueueCounts:
        with self._counts_lock:
            return replace(self._counts)

    # ------------------------------------------------------------------ background (the runner)

    def start(self) -> None:
        """Poll in a background thread until `stop()`."""
        self._open()
        self._poller = threading.Thread(target=self._poll_loop, name=f"poll-{self.queue_name}", daemon=True)
        self._poller.start()

    def stop(self, drain_seconds: float = 30.0) -> None:
        """Stop polling, let in-flight invocations finish; anything left reappears after its lease."""
        self.stopping.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
        self._close(drain_seconds)

    def _poll_loop(self) -> None:
        delay = MIN_POLL_SECONDS
        while not self.stopping.is_set():
            received = self._poll_once()
            if received is None:
                self.stopping.wait(_FULL_TICK_SECONDS)
            elif received:
                delay = MIN_POLL_SECONDS
            else:
                self.stopping.wait(delay)
                delay = self._backoff(delay)

    # --------------------------------------------------------------- foreground (tests, tools)

    def drain(
        self,
        *,
        idle_seconds: float = 1.0,
        timeout: float = 60.0,
        until: Callable[[], bool] | None = None,
    ) -> QueueCounts:
        """Process the queue in the calling thread with the same semantics as the runner, then
        return what this call did. Without `until` it returns once nothing was received and
        nothing ran for `idle_seconds`; with `until` it returns when `until()` is true. Either way
        it gives up polling after `timeout` seconds and waits for invocations already running."""
        before = self.counts
        started = time.monotonic()
        self._last_activity = started
        delay = MIN_POLL_SECONDS
        self._open()
        try:
            while time.monotonic() - started < timeout and not self.stopping.is_set():
                if until is not None and until():
                    break
                if until is None and self._idle_for() >= idle_seconds:
                    break
                received = self._poll_once()
                if received is None:
                    self.stopping.wait(_FULL_TICK_SECONDS)
                elif received:
                    delay = MIN_POLL_SECONDS
                else:
                    self.stopping.wait(min(delay, idle_seconds / 4) if until is None else delay)
                    delay = self._backoff(delay)
        finally:
            self._close(drain_seconds=max(timeout - (time.monotonic() - started), 5.0))
        return self.counts.minus(before)

    def _idle_for(self) -> float:
        if self._in_flight():
            return 0.0
        return time.monotonic() - self._last_activity

    # ------------------------------------------------------------------------------ machinery

    def _open(self) -> None:
        self.stopping.clear()
        self._pool = ThreadPoolExecutor(
            max_workers=self.options.batch_size + self.options.new_batch_threshold,
            thread_name_prefix=f"queue-{self.queue_name}",
        )
        self._renew_stop = threading.Event()
        self._renewer = threading.Thread(
            target=self._renew_loop, args=(self._renew_stop,), name=f"renew-{self.queue_name}", daemon=True
        )
        self._renewer.start()

    def _close(self, drain_seconds: float) -> None:
        deadline = time.monotonic() + drain_seconds
        while self._in_flight() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        with self.leases_lock:  # never started: nothing to renew, the lease simply runs out
            for key in [k for k, lease in self.leases.items() if lease.future and lease.future.cancelled()]:
                del self.leases[key]
        self._renew_stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)

    def _backoff(self, delay: float) -> float:
        return min(delay * 2, max(self.options.max_polling_interval, MIN_POLL_SECONDS))

    def _in_flight(self) -> int:
        with self.leases_lock:
            return len(self.leases)

    def _ensure_queue(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue()

    def _poll_once(self) -> int | None:
        """Receive and dispatch one batch: how many messages came, None when the slots are full."""
        if self._in_flight() > self.options.new_batch_threshold:
            return None
        try:
            if not self._queue_ready:
                self._ensure_queue()
                self._queue_ready = True
            batch = self._receive()
        except Exception as exc:  # storage down: back off and try again, like the host
            logger.warning("queue %s unavailable: %s", self.queue_name, type(exc).__name__)
            self._queue_ready = False  # storage may come back empty (in-memory Azurite)
            return 0
        if batch:
            self._last_activity = time.monotonic()
        for message in batch:
            self._dispatch(message)
        return len(batch)

    def _receive(self) -> list[Any]:
        return list(
            self.client.receive_messages(
                messages_per_page=self.options.batch_size,
                max_messages=self.options.batch_size,
                visibility_timeout=self.options.lease_seconds,
            )
        )

    def _dispatch(self, message: Any) -> None:
        lease = _Lease(message, message.pop_receipt)
        with self.leases_lock:
            self.leases[message.id] = lease
        try:
            if self._pool is None:
                raise RuntimeError("listener not started")
            lease.future = self._pool.submit(self._process, lease)
        except RuntimeError:  # pool shut down while stopping: the message reappears after its lease
            self._forget(lease)

    def _forget(self, lease: _Lease) -> None:
        with self.leases_lock:
            self.leases.pop(lease.message.id, None)
        self._last_activity = time.monotonic()

    def _renew_loop(self, stop: threading.Event) -> None:
        """Keep leases alive at half-time, as the host does, so a slow invocation is not run twice.
        After `stop` it goes on while invocations still run, then returns."""
        interval = max(0.5, self.options.lease_seconds / 2)
        while not stop.wait(interval) or self._in_flight():
            with self.leases_lock:
                leases = list(self.leases.values())
            for lease in leases:
                self._renew(lease)

    def _renew(self, lease: _Lease) -> None:
        with lease.lock:
            if lease.done:
                return
            try:
                updated = self.client.update_message(
                    lease.message.id, lease.pop_receipt, visibility_timeout=self.options.lease_seconds
                )
                lease.pop_receipt = updated.pop_receipt or lease.pop_receipt
            except Exception as exc:
                logger.warning("lease renewal failed for %s: %s", lease.message.id, type(exc).__name__)

    def _body(self, message: Any) -> bytes:
        content = message.content or ""
        if self.options.message_encoding == "base64":
            return base64.b64decode(content)
        return content.encode("utf-8") if isinstance(content, str) else bytes(content)

    def _queue_message(self, message: Any) -> func.QueueMessage:
        return func.queue.QueueMessage(
            id=message.id,
            body=self._body(message),
            dequeue_count=message.dequeue_count,
            pop_receipt=message.pop_receipt,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
        )

    def invoke_input(self, text: str) -> str:
        """Run the function once on `text` as a message body, bypassing the queue (Core Tools' admin
        invocation); returns the outcome. Nothing is enqueued, so nothing is retried or poisoned."""
        message_id = str(uuid.uuid4())
        started = time.monotonic()
        message = func.queue.QueueMessage(id=message_id, body=text.encode("utf-8"), dequeue_count=1)
        self._count(invocations=1)
        try:
            call_user_function(self.function, self.trigger_arg, message)
        except Exception:
            logger.exception("function %s failed on message %s", self.name, message_id)
            self._count(failures=1)
            log_invocation(self.name, message_id, started, "failed")
            return "failed"
        log_invocation(self.name, message_id, started, "ok")
        return "ok"

    def _count(self, *, invocations: int = 0, failures: int = 0, poisoned: int = 0) -> None:
        with self._counts_lock:
            self._counts.invocations += invocations
            self._counts.failures += failures
            self._counts.poisoned += poisoned

    def _process(self, lease: _Lease) -> None:
        message = lease.message
        started = time.monotonic()
        try:
            if message.dequeue_count > self.options.max_dequeue_count:
                # Dequeued too often without completing (e.g. a crashed host): poison unseen.
                self._settle(lease, self._move_to_poison)
                self._count(poisoned=1)
                log_invocation(self.name, message.id, started, "poisoned")
                return
            self._count(invocations=1)
            try:
                call_user_function(self.function, self.trigger_arg, self._queue_message(message))
            except Exception:
                logger.exception("function %s failed on message %s", self.name, message.id)
                self._count(failures=1)
                outcome = self._after_failure(lease)
                log_invocation(self.name, message.id, started, outcome)
                return
            self._settle(lease, self._delete)
            log_invocation(self.name, message.id, started, "ok")
        except Exception:
            logger.exception("could not settle message %s; it reappears after its lease", message.id)
        finally:
            self._forget(lease)

    def _after_failure(self, lease: _Lease) -> str:
        if lease.message.dequeue_count >= self.options.max_dequeue_count:
            self._settle(lease, self._move_to_poison)
            self._count(poisoned=1)
            return "poisoned"
        self._settle(lease, self._release)
        return "failed"

    def _settle(self, lease: _Lease, action: Callable[[_Lease], None]) -> None:
        with lease.lock:
            lease.done = True
            action(lease)

    def _delete(self, lease: _Lease) -> None:
        self.client.delete_message(lease.message.id, lease.pop_receipt)

    def _release(self, lease: _Lease) -> None:
        """Failure: the message becomes visible again after visibilityTimeout (0 = now)."""
        self.client.update_message(
            lease.message.id, lease.pop_receipt, visibility_timeout=round(self.options.visibility_timeout)
        )

    def _move_to_poison(self, lease: _Lease) -> None:
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        try:
            self.poison.send_message(lease.message.content)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                self.poison.create_queue()
            self.poison.send_message(lease.message.content)
        logger.error("message %s moved to %s", lease.message.id, self.poison.queue_name)
        self._delete(lease)
