"""The life of a loopback simulator: start on 127.0.0.1 in a daemon thread, stop (cutting open
connections, as an outage would), in-flight counting, request records and fault rules."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Self, TypeVar

from werkzeug.datastructures import Headers

from devtools.simkit.faults import FaultRule, pick_fault
from devtools.simkit.files import FileHost
from devtools.simkit.server import LoopbackServer

RecordT = TypeVar("RecordT")  # a NamedTuple with at least `operation` and `status`
RuleT = TypeVar("RuleT", bound=FaultRule)


class Simulator(Generic[RecordT, RuleT]):
    """Start/stop, `with`, port and url, errors, in-flight counting, records and fault rules."""

    thread_name = "simulator"
    record_type: Callable[..., RecordT]  # the simulator's record (a NamedTuple), built by add_call
    redacted_headers: frozenset[str] = frozenset({"authorization"})
    files: FileHost | None = None  # a simulator that hosts files mounts one (served at /files/)

    def __init__(self, *, port: int | None = None, seed: int = 0) -> None:
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self._seed, self._rng = seed, random.Random(seed)
        self._faults: list[RuleT] = []
        self._records: list[RecordT] = []
        self._inflight = self._peak_inflight = 0
        self._port = port
        self._running: tuple[LoopbackServer, threading.Thread] | None = None

    def make_server(self, address: tuple[str, int]) -> LoopbackServer:
        raise NotImplementedError

    def start(self) -> Self:
        """Listen on 127.0.0.1 (the same port again after a stop, so clients can reconnect)."""
        if self._running is not None:
            return self
        server = self.make_server(("127.0.0.1", self._port or 0))
        self._port = int(server.server_address[1])
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=self.thread_name, daemon=True
        )
        self._running = (server, thread)
        thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections, as an outage would."""
        if self._running is None:
            return
        (server, thread), self._running = self._running, None
        server.shutdown()
        server.cut_all_connections()
        server.server_close()
        thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator has no port until start()")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def enter(self, limit: int | None = None) -> bool:
        """Count a request in, unless `limit` requests are already in flight (then False)."""
        with self.lock:
            if limit is not None and self._inflight >= limit:
                return False
            self._inflight += 1
            self._peak_inflight = max(self._peak_inflight, self._inflight)
            return True

    def leave(self) -> None:
        with self.lock:
            self._inflight -= 1

    @property
    def in_flight(self) -> int:
        """Requests being handled right now (a slow fault still sleeping counts)."""
        with self.lock:
            return self._inflight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being handled, so a reset cannot be undone by a late commit."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.in_flight

    def record_error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)

    def add_record(self, record: RecordT) -> None:
        with self.lock:
            self._records.append(record)

    def add_call(self, handler: Any, started: float, status: int, fault: str | None, **fields: Any) -> None:
        """Record one API call as `record_type` (`redacted_headers` hidden) with the simulator's `fields`."""
        headers, duration_ms = redact(handler.headers, self.redacted_headers), elapsed_ms(started)
        call = {"method": handler.command, "status": status, "fault": fault, "duration_ms": duration_ms}
        self.add_record(self.record_type(**call, headers=headers, **fields))

    @property
    def requests(self) -> list[RecordT]:
        with self.lock:
            return list(self._records)

    @property
    def faults(self) -> list[RuleT]:
        with self.lock:
            return list(self._faults)

    def add_fault(self, rule: RuleT) -> None:
        with self.lock:
            self._faults.append(rule)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def choose_fault(self, operation: str, subject: str | None = None) -> RuleT | None:
        """The first fault rule that fires for this request (on `subject`, if the rules narrow), if any."""
        with self.lock:
            return pick_fault(self._faults, operation, self._rng, subject)

    def faults_fired(self) -> int:
        """Times any rule fired. Call under the lock."""
        return sum(rule.fired for rule in self._faults)

    def stats(self) -> dict[str, Any]:
        """Requests, their counts per operation and status (status "0" is a dropped connection), faults
        fired; a simulator adds its own counts."""
        with self.lock:
            records, fired = list(self._records), self.faults_fired()
        return {"requests": len(records), "operations": per_operation(records), "faults_fired": fired}

    def count(self, operation: str | None = None, **match: Any) -> int:
        """Recorded requests whose fields equal every filter given (None filters nothing)."""
        wanted = {k: v for k, v in {"operation": operation, **match}.items() if v is not None}
        return sum(all(getattr(r, k) == v for k, v in wanted.items()) for r in self.requests)

    def reset_records(self) -> None:
        """Forget faults and records and restart the fault dice from the seed. Call under the lock."""
        self._faults.clear()
        self._records.clear()
        self._rng = random.Random(self._seed)


def redact(headers: Mapping[str, str] | Headers, secret: Iterable[str]) -> dict[str, str]:
    """Headers keyed in lower case, with the values of `secret` (lower-case names) hidden."""
    hidden = frozenset(secret)
    return {k.lower(): "<redacted>" if k.lower() in hidden else v for k, v in headers.items()}


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def per_operation(records: Iterable[Any]) -> dict[str, dict[str, int]]:
    """{operation: {status: count}} in operation order; status "0" is a dropped connection."""
    counts: dict[str, Counter[str]] = {}
    for record in records:
        counts.setdefault(record.operation, Counter())[str(record.status)] += 1
    return {operation: dict(counter) for operation, counter in sorted(counts.items())}
