"""Fault soak: signed handoffs at a steady rate through the local runner, Azurite and the simulator,
with ~20% of Dataverse requests faulted (every kind, commit-then-drop included), one SIGKILL and
restart of the runner, and one Azurite restart during which the sender retries 503s as OpenCX would.

It ends by checking: every accepted handoff is exactly one work item, or dead-lettered where a
permanent fault was injected on purpose; nothing lost, nothing duplicated.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.report import print_table, write_results
from devtools.dataverse_sim import FaultRule
from devtools.signing import signed_headers
from devtools.stack import Stack
from shared.dynamics.work_item import work_item_id

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "v1"
PERMANENT_FAULTS = 3
# The first matching rule wins, so the rates compound to about 20% of all Dataverse requests.
FAULTS = (
    FaultRule(kind="status", status=429, retry_after=1, rate=0.06),
    FaultRule(kind="status", status=500, rate=0.04),
    FaultRule(kind="status", status=503, rate=0.04),
    FaultRule(kind="drop_before", rate=0.04),
    FaultRule(kind="drop_after_commit", operation="create_work_item", rate=0.05),
    FaultRule(kind="slow", delay=1.5, rate=0.02),
)


@dataclass
class Ledger:
    """What the sender knows: which handoffs the bridge accepted, and how often it had to retry."""

    accepted: set[str] = field(default_factory=set)
    refused: Counter[int] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def deliver_like_opencx(stack: Stack, body: bytes, handoff_id: str, ledger: Ledger, give_up: float) -> None:
    """POST until 2xx: a fresh signature each try, backing off on 503 and connection errors."""
    pause = 0.5
    while time.monotonic() < give_up:
        headers = signed_headers(body, webhook_id=handoff_id) | {"x-functions-key": stack.function_key}
        try:
            status = requests.post(stack.webhook_url, data=body, headers=headers, timeout=15).status_code
        except requests.RequestException:
            status = 0
        if status in (200, 202):
            with ledger.lock:
                ledger.accepted.add(handoff_id)
            return
        with ledger.lock:
            ledger.retries[str(status)] += 1
        if status not in (0, 503):
            with ledger.lock:
                ledger.refused[status] += 1
            return
        time.sleep(pause)
        pause = min(pause * 2, 8.0)


def deadletters(stack: Stack) -> list[dict]:
    import base64

    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.queue import QueueClient

    assert stack.azurite is not None
    client = QueueClient.from_connection_string(stack.azurite.connection_string, f"{stack.queue}-deadletter")
    try:
        return [json.loads(base64.b64decode(m.content)) for m in client.peek_messages(max_messages=32)]
    except ResourceNotFoundError:
        return []


def run_soak(count: int, rate: float, settle_seconds: float = 120.0) -> dict[str, object]:
    body = (SAMPLES / "sms-handoff.json").read_bytes()
    prefix = f"msg_soak_{time.time_ns()}"
    ids = [f"{prefix}-{i}" for i in range(count)]
    ledger = Ledger()
    events: list[str] = []
    with (
        tempfile.TemporaryDirectory() as azurite_dir,
        Stack(
            azurite_location=Path(azurite_dir),
            runner_log=Path(azurite_dir) / "runner.log",
            settings={"DATAVERSE_TIMEOUT_SECONDS": "1", "HANDOFF_MAX_ATTEMPTS": "10"},
        ) as stack,
    ):
        sim = stack.simulator
        assert sim is not None and stack.azurite is not None
        for rule in FAULTS:
            sim.add_fault(rule)
        sim.add_fault(
            FaultRule(kind="status", operation="create_work_item", status=400, times=PERMANENT_FAULTS)
        )
        duration = count / rate
        started = time.monotonic()
        give_up = started + duration + settle_seconds
        with ThreadPoolExecutor(32) as pool:
            kill_at, azurite_at = duration * 0.3, duration * 0.6
            for index, handoff_id in enumerate(ids):
                due = started + index / rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                elapsed = time.monotonic() - started
                if kill_at and elapsed >= kill_at:
                    kill_at = 0
                    stack.kill_runner()
                    events.append(f"{elapsed:.1f}s runner SIGKILLed")
                    threading.Timer(1.0, stack.start_runner).start()
                if azurite_at and elapsed >= azurite_at:
                    azurite_at = 0
                    stack.azurite.stop()
                    events.append(f"{elapsed:.1f}s Azurite stopped")
                    threading.Timer(3.0, stack.azurite.start).start()
                pool.submit(deliver_like_opencx, stack, body, handoff_id, ledger, give_up)
        wanted = {work_item_id(h): h for h in ledger.accepted}
        deadline = time.monotonic() + settle_seconds
        dead: list[dict] = []
        while time.monotonic() < deadline:
            created = {item["activityid"] for item in sim.work_items}
            dead = deadletters(stack)
            dead_ids = {record.get("handoffId") for record in dead}
            if all(activity in created or wanted[activity] in dead_ids for activity in wanted):
                break
            time.sleep(1.0)
        items = sim.work_items
    created_counts = Counter(item["activityid"] for item in items)
    dead_ids = {record.get("handoffId") for record in dead}
    lost = [h for a, h in wanted.items() if a not in created_counts and h not in dead_ids]
    unexpected_dead = [r for r in dead if r.get("lastStatus") != 400]
    faulted = sum(1 for r in sim.requests if r.fault)
    return {
        "sent": count,
        "rate_per_s": rate,
        "accepted": len(ledger.accepted),
        "refused": dict(ledger.refused),
        "sender_retries": dict(ledger.retries),
        "created": len(created_counts),
        "duplicates": sum(n - 1 for n in created_counts.values()),
        "dead_lettered": len(dead),
        "dead_lettered_unexpectedly": len(unexpected_dead),
        "permanent_faults_injected": PERMANENT_FAULTS,
        "lost": len(lost),
        "accounted_for": len(wanted) - len(lost),
        "never_accepted": count - len(ledger.accepted),
        "dataverse_requests": len(sim.requests),
        "dataverse_faulted": faulted,
        "dataverse_fault_rate": faulted / max(1, len(sim.requests)),
        "events": events,
    }


def verdict(report: dict[str, object]) -> list[str]:
    """Every broken promise, in words. Empty means the soak passed."""
    problems = []
    if report["never_accepted"]:
        problems.append(f"{report['never_accepted']} handoffs were never accepted")
    if report["lost"]:
        problems.append(f"{report['lost']} accepted handoffs were lost")
    if report["duplicates"]:
        problems.append(f"{report['duplicates']} duplicate work items")
    if report["dead_lettered_unexpectedly"]:
        problems.append(f"{report['dead_lettered_unexpectedly']} dead-lettered without a permanent fault")
    if report["accounted_for"] != report["accepted"]:
        problems.append("accepted != created or deliberately dead-lettered")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handoffs", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    report = run_soak(args.handoffs, args.rate)
    problems = verdict(report)
    report["problems"] = problems
    print_table(
        f"Fault soak: {args.handoffs} handoffs at {args.rate:.0f}/s",
        [
            ("accepted", str(report["accepted"])),
            ("created", str(report["created"])),
            ("dead-lettered (400 injected on purpose)", f"{report['dead_lettered']} of {PERMANENT_FAULTS}"),
            ("duplicates", str(report["duplicates"])),
            ("lost", str(report["lost"])),
            (
                "Dataverse requests faulted",
                f"{report['dataverse_faulted']} of {report['dataverse_requests']} "
                f"({report['dataverse_fault_rate']:.0%})",
            ),
            ("sender retries by status (0 = no connection)", json.dumps(report["sender_retries"])),
            ("events", "; ".join(report["events"])),
            ("verdict", "PASS" if not problems else "FAIL: " + "; ".join(problems)),
        ],
    )
    print(f"\nwritten: {write_results('soak', report)}")
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
