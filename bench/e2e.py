"""End-to-end latency through the local runner: OpenCX's `conversation.handoff_to_human` sent to
`?code=` -> enrichment from the OpenCX simulator -> live work item in the Dataverse simulator.

At idle (one handoff at a time, at random phases of the queue poll) and under a steady 20
handoffs/s. The queue poll backs off to host.json's maxPollingInterval when idle, which is what
bounds the idle figure, on the real host as here. Each handoff is its own SMS conversation; OpenCX's
100-a-minute limit is off (20/s is 2,400 OpenCX requests a minute). Reports the OpenCX and Dataverse
requests per handoff.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.report import print_table, summary, write_results
from devtools.send_handoff import with_code
from devtools.stack import Stack
from shared.dynamics.columns import derived_id


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


def new_event(stack: Stack) -> tuple[str, bytes]:
    """A fresh SMS conversation in the OpenCX simulator and its handoff event."""
    assert stack.opencx is not None
    session_id = stack.opencx.add_session(channel="sms", name="Dana Reyes", phone_number="+14155550123")
    return session_id, json.dumps(stack.opencx.handoff_event(session_id)).encode()


def send(stack: Stack, session: requests.Session, event: tuple[str, bytes], watcher: Watcher) -> None:
    """POST as OpenCX does (unsigned, the key in `?code=`); the row id follows from the answer, so
    the clock starts before the POST and the expectation is registered right after it."""
    session_id, body = event
    sent_at = time.perf_counter()
    url = with_code(stack.webhook_url, stack.function_key)
    response = session.post(url, data=body, headers={"content-type": "application/json"}, timeout=15)
    if response.status_code != 202:
        raise RuntimeError(f"webhook answered {response.status_code}: {response.text}")
    watcher.expect(derived_id(session_id, response.json()["handoffId"]), sent_at)


def run(idle_count: int, loaded_seconds: float, rate: float) -> dict[str, Any]:
    with Stack(runner_log=Path("/dev/null"), opencx_rate_limit=None) as stack:
        assert stack.opencx is not None and stack.simulator is not None
        watcher = Watcher(stack)
        session = requests.Session()
        for _ in range(3):  # warm the runner: first imports, first token
            send(stack, session, new_event(stack), watcher)
        watcher.wait_all(30)
        watcher.take()
        for _ in range(idle_count):
            time.sleep(random.uniform(0.3, 2.5))
            send(stack, session, new_event(stack), watcher)
            watcher.wait_all(30)
        idle = watcher.take()
        total = int(loaded_seconds * rate)
        events = [new_event(stack) for _ in range(total)]
        stack.opencx.wait_idle()
        opencx_before = len(stack.opencx.requests)
        dataverse_before = len([r for r in stack.simulator.requests if r.operation != "token"])
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            for i in range(total):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(send, stack, requests.Session(), events[i], watcher)
        watcher.wait_all(60)
        loaded = watcher.take()
        watcher.stopping.set()
        time.sleep(0.5)  # the last status writes
        opencx_made = len(stack.opencx.requests) - opencx_before
        dataverse_made = (
            len([r for r in stack.simulator.requests if r.operation != "token"]) - dataverse_before
        )
    return {
        "idle_ms": summary(idle),
        "loaded_ms": summary(loaded),
        "rate_per_s": rate,
        "opencx_requests_per_handoff": opencx_made / max(1, total),
        "dataverse_requests_per_handoff": dataverse_made / max(1, total),
    }


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
            (
                "requests per handoff under load",
                f"OpenCX {figures['opencx_requests_per_handoff']:.2f}, "
                f"Dataverse {figures['dataverse_requests_per_handoff']:.2f} (token requests not counted)",
            ),
        ],
    )
    print(f"\nwritten: {write_results('e2e', figures)}")


if __name__ == "__main__":
    main()
