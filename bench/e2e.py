"""End-to-end latency through the local runner: webhook sent -> live work item in the simulator.

At idle (one handoff at a time, at random phases of the queue poll) and under a steady 20
handoffs/s. The queue poll backs off to host.json's maxPollingInterval when idle, which is what
bounds the idle figure, on the real host as here.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.report import print_table, summary, write_results
from devtools.signing import signed_headers
from devtools.stack import Stack
from shared.dynamics.work_item import work_item_id

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "v1"


class Watcher:
    """Notes the moment each expected work item appears in the simulator."""

    def __init__(self, stack: Stack) -> None:
        assert stack.simulator is not None
        self.simulator = stack.simulator
        self.pending: dict[str, float] = {}
        self.latencies: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def expect(self, activity_id: str, sent_at: float) -> None:
        with self.lock:
            self.pending[activity_id] = sent_at

    def _run(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                waiting = list(self.pending.items())
            for activity_id, sent_at in waiting:
                if self.simulator.work_item(activity_id) is not None:
                    with self.lock:
                        self.latencies[activity_id] = (time.perf_counter() - sent_at) * 1000
                        self.pending.pop(activity_id, None)
            time.sleep(0.002)

    def wait_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.pending:
            raise TimeoutError(f"{len(self.pending)} work items never appeared")

    def take(self) -> list[float]:
        with self.lock:
            values = list(self.latencies.values())
            self.latencies.clear()
        return values


def send(stack: Stack, session: requests.Session, body: bytes, handoff_id: str, watcher: Watcher) -> None:
    headers = signed_headers(body, webhook_id=handoff_id) | {"x-functions-key": stack.function_key}
    watcher.expect(work_item_id(handoff_id), time.perf_counter())
    response = session.post(stack.webhook_url, data=body, headers=headers, timeout=15)
    if response.status_code != 202:
        raise RuntimeError(f"webhook answered {response.status_code}: {response.text}")


def run(idle_count: int, loaded_seconds: float, rate: float) -> dict[str, object]:
    body = (SAMPLES / "sms-handoff.json").read_bytes()
    prefix = f"msg_e2e_{time.time_ns()}"
    with Stack(runner_log=Path("/dev/null")) as stack:
        watcher = Watcher(stack)
        session = requests.Session()
        for i in range(3):  # warm the runner: first imports, first token
            send(stack, session, body, f"{prefix}-warm-{i}", watcher)
        watcher.wait_all(30)
        watcher.take()
        for i in range(idle_count):
            time.sleep(random.uniform(0.3, 2.5))
            send(stack, session, body, f"{prefix}-idle-{i}", watcher)
            watcher.wait_all(30)
        idle = watcher.take()
        total = int(loaded_seconds * rate)
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            for i in range(total):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(send, stack, requests.Session(), body, f"{prefix}-load-{i}", watcher)
        watcher.wait_all(60)
        loaded = watcher.take()
        watcher.stopping.set()
    return {"idle_ms": summary(idle), "loaded_ms": summary(loaded), "rate_per_s": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    figures = run(args.idle, args.seconds, args.rate)
    idle, loaded = figures["idle_ms"], figures["loaded_ms"]
    host = json.loads((Path(__file__).resolve().parent.parent / "host.json").read_text())
    poll = host["extensions"]["queues"]["maxPollingInterval"]
    print_table(
        f"End to end (webhook sent -> work item created), maxPollingInterval {poll}",
        [
            (f"idle, {idle['n']} one at a time", f"p50 {idle['p50']:.0f} ms, p95 {idle['p95']:.0f} ms"),
            (
                f"{args.rate:.0f}/s for {args.seconds:.0f} s ({loaded['n']})",
                f"p50 {loaded['p50']:.0f} ms, p95 {loaded['p95']:.0f} ms",
            ),
        ],
    )
    print(f"\nwritten: {write_results('e2e', figures)}")


if __name__ == "__main__":
    main()
