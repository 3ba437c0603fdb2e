"""Work a function starts after it has answered: a small thread pool whose running work can be
awaited. The relay's fast path and ingress's "accepted" status writes use it; at shutdown (and at
the end of a test) `settle` lets what is running finish."""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class BackgroundWork:
    def __init__(self, workers: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._running: set[Future[Any]] = set()
        self._lock = threading.Lock()
        atexit.register(self.settle, 10.0)

    def submit(self, work: Callable[[], Any]) -> None:
        future = self._pool.submit(work)
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._running.discard(future)

    def settle(self, timeout: float = 15.0) -> bool:
        """Wait until nothing runs; False if something still did after `timeout`."""
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
