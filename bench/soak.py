"""Fault soak: OpenCX's real `conversation.handoff_to_human` events at a steady rate through the local
runner, Azurite, the OpenCX simulator (enrichment) and the Dataverse simulator, with about 20% of the
requests to EACH of OpenCX and Dataverse faulted (every kind: 429 with Retry-After, 5xx, drops,
commit-then-drop on Dataverse creates, slow answers), one SIGKILL and restart of the runner, and one
Azurite restart during which the sender retries 503s as OpenCX would. About 5% of the events are
delivered twice (OpenCX redelivers), and a share are email conversations (incidents).

It ends by checking: every accepted handoff is exactly one row (work item or incident), or is
dead-lettered where a permanent fault was injected on purpose (a Dataverse 400 on a few creates, an
OpenCX 404 for a few sessions); nothing lost, nothing duplicated. It reports the OpenCX and
Dataverse requests per handoff. OpenCX's 100-a-minute limit is off here (the soak sends 40 OpenCX
requests a second; the limit is the burst test's subject, not this one's).
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
from typing import Any

import requests

from bench.report import print_table, write_results
from devtools.dataverse_sim import FaultRule
from devtools.opencx_sim import FaultRule as OpenCXFault
from devtools.send_handoff import with_code
from devtools.stack import Stack
from shared.dynamics.columns import derived_id

DATAVERSE_PERMANENT = 3  # creates answered 400: dead-lettered with permanent_error
OPENCX_MISSING = 2  # sessions OpenCX answers 404 for: dead-lettered with opencx_session_not_found
EXPECTED_DEAD_REASONS = frozenset({"permanent_error", "opencx_session_not_found"})
REDELIVER_EVERY = 20  # every 20th event is delivered a second time, as OpenCX retries
# The first matching rule wins, so the rates compound to about 20% of each system's requests.
DATAVERSE_FAULTS = (
    FaultRule(kind="status", status=429, retry_after=1, rate=0.06),
    FaultRule(kind="status", status=500, rate=0.04),
    FaultRule(kind="status", status=503, rate=0.04),
    FaultRule(kind="drop_before", rate=0.04),
    FaultRule(kind="drop_after_commit", operation="create_work_item", rate=0.05),
    FaultRule(kind="drop_after_commit", operation="create_incident", rate=0.05),
    FaultRule(kind="slow", delay=1.5, rate=0.02),
)
OPENCX_FAULTS = (
    OpenCXFault(kind="status", status=429, retry_after=1, rate=0.06),
    OpenCXFault(kind="status", status=500, rate=0.04),
    OpenCXFault(kind="status", status=502, rate=0.03),
    OpenCXFault(kind="status", status=503, rate=0.03),
    OpenCXFault(kind="drop_before", rate=0.04),
    OpenCXFault(kind="slow", delay=1.5, rate=0.02),
)


@dataclass
class Ledger:
    """What the sender knows: which handoffs the bridge accepted (handoffId -> conversation), how
    often it had to retry, and what it refused."""

    accepted: dict[str, str] = field(default_factory=dict)
    duplicates_answered: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def deliver_like_opencx(stack: Stack, body: bytes, ledger: Ledger, give_up: float) -> None:
    """POST to `?code=` until 2xx, unsigned as OpenCX sends, backing off on 503 and connection errors."""
    pause = 0.5
    url = with_code(stack.webhook_url, stack.function_key)
    headers = {"content-type": "application/json"}
    while time.monotonic() < give_up:
        try:
            response = requests.post(url, data=body, headers=headers, timeout=15)
            status = response.status_code
        except requests.RequestException:
            status = 0
        if status in (200, 202):
            answer = response.json()
            with ledger.lock:
                if answer.get("handoffId"):
                    ledger.accepted[answer["handoffId"]] = answer.get("sessionId", "")
                ledger.duplicates_answered += 1 if answer.get("duplicate") else 0
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


def _sessions(stack: Stack, count: int, email_share: float) -> list[str]:
    """`count` distinct conversations in the OpenCX simulator: sms (work items) and a share of email
    (incidents), each with a two-line history, so each handoff reads a session and one history page."""
    from devtools.opencx_sim import history_item

    assert stack.opencx is not None
    every_email = round(1 / email_share) if email_share > 0 else 0
    sessions = []
    for index in range(count):
        email = bool(every_email) and index % every_email == every_email - 1
        at = "2026-11-25T10:00:00.000Z"
        history = [
            history_item("Hi, I need to change my delivery.", sender_type="contact", created_at=at),
            history_item("Let me get a human to help.", sender_type="ai", created_at=at),
        ]
        sessions.append(
            stack.opencx.add_session(
                channel="email" if email else "sms",
                name="Dana Reyes" if not email else f"Soak Customer {index}",
                phone_number=None if email else "+14155550123",
                email=f"soak.customer.{index % 50}@example.com" if email else None,
                history=history,
                contact_reason="Delivery change",
                updated_at=at,
            )
        )
    return sessions


def run_soak(
    count: int, rate: float, settle_seconds: float = 120.0, email_share: float = 0.1
) -> dict[str, Any]:
    ledger = Ledger()
    events: list[str] = []
    with (
        tempfile.TemporaryDirectory() as azurite_dir,
        Stack(
            azurite_location=Path(azurite_dir),
            runner_log=Path(azurite_dir) / "runner.log",
            settings={
                "DATAVERSE_TIMEOUT_SECONDS": "1",
                "OPENCX_TIMEOUT_SECONDS": "1",
                "HANDOFF_MAX_ATTEMPTS": "10",
            },
            opencx_rate_limit=None,
        ) as stack,
    ):
        sim, opencx = stack.simulator, stack.opencx
        assert sim is not None and opencx is not None and stack.azurite is not None
        sessions = _sessions(stack, count, email_share)
        missing = set(sessions[1 : 1 + OPENCX_MISSING * 7 : 7])  # a few sessions OpenCX "lost"
        for session in missing:
            opencx.add_fault(
                OpenCXFault(kind="status", status=404, operation="get_session", session_id=session)
            )
        for rule in OPENCX_FAULTS:
            opencx.add_fault(rule)
        sim.add_fault(
            FaultRule(kind="status", operation="create_work_item", status=400, times=DATAVERSE_PERMANENT)
        )
        for dataverse_rule in DATAVERSE_FAULTS:
            sim.add_fault(dataverse_rule)
        bodies = [json.dumps(opencx.handoff_event(session)).encode() for session in sessions]
        sends = [*bodies, *bodies[::REDELIVER_EVERY]]  # the redeliveries come last, after their originals
        duration = len(sends) / rate
        started = time.monotonic()
        give_up = started + duration + settle_seconds
        with ThreadPoolExecutor(32) as pool:
            kill_at, azurite_at = duration * 0.3, duration * 0.6
            for index, body in enumerate(sends):
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
                pool.submit(deliver_like_opencx, stack, body, ledger, give_up)
        wanted = {derived_id(session, handoff): handoff for handoff, session in ledger.accepted.items()}
        deadline = time.monotonic() + settle_seconds
        dead: list[dict] = []
        while time.monotonic() < deadline:
            created = _row_ids(stack)
            dead = deadletters(stack)
            dead_ids = {record.get("handoffId") for record in dead}
            if all(row in created or wanted[row] in dead_ids for row in wanted):
                break
            time.sleep(1.0)
        time.sleep(1.0)  # a late duplicate would show now
        work_item_rows = [item["activityid"] for item in sim.work_items]
        incident_rows = [item["incidentid"] for item in sim.incidents]
        work_items, incidents = len(work_item_rows), len(incident_rows)
        rows = work_item_rows + incident_rows
        dataverse_requests = [r for r in sim.requests if r.operation != "token"]
        opencx_requests = opencx.requests
    created_counts = Counter(rows)
    dead_ids = {record.get("handoffId") for record in dead}
    lost = [h for row, h in wanted.items() if row not in created_counts and h not in dead_ids]
    unexpected_dead = [r for r in dead if r.get("reason") not in EXPECTED_DEAD_REASONS]
    accepted = max(1, len(ledger.accepted))
    opencx_faulted = sum(1 for r in opencx_requests if r.fault)
    dataverse_faulted = sum(1 for r in dataverse_requests if r.fault)
    return {
        "sent": len(sends),
        "handoff_events": count,
        "redeliveries": len(sends) - count,
        "email_share": email_share,
        "rate_per_s": rate,
        "accepted": len(ledger.accepted),
        "duplicates_answered": ledger.duplicates_answered,
        "refused": dict(ledger.refused),
        "sender_retries": dict(ledger.retries),
        "created": len(created_counts),
        "work_items": work_items,
        "incidents": incidents,
        "duplicates": sum(n - 1 for n in created_counts.values()),
        "dead_lettered": len(dead),
        "dead_reasons": dict(Counter(str(r.get("reason")) for r in dead)),
        "dead_lettered_unexpectedly": len(unexpected_dead),
        "permanent_faults_injected": DATAVERSE_PERMANENT + len(missing),
        "lost": len(lost),
        "accounted_for": len(wanted) - len(lost),
        "never_accepted": count - len(ledger.accepted),
        "opencx_requests": len(opencx_requests),
        "opencx_faulted": opencx_faulted,
        "opencx_fault_rate": opencx_faulted / max(1, len(opencx_requests)),
        "opencx_requests_per_handoff": len(opencx_requests) / accepted,
        "dataverse_requests": len(dataverse_requests),
        "dataverse_faulted": dataverse_faulted,
        "dataverse_fault_rate": dataverse_faulted / max(1, len(dataverse_requests)),
        "dataverse_requests_per_handoff": len(dataverse_requests) / accepted,
        "events": events,
    }


def _row_ids(stack: Stack) -> set[str]:
    assert stack.simulator is not None
    return {i["activityid"] for i in stack.simulator.work_items} | {
        i["incidentid"] for i in stack.simulator.incidents
    }


def verdict(report: dict[str, Any]) -> list[str]:
    """Every broken promise, in words. Empty means the soak passed."""
    problems = []
    if report["never_accepted"]:
        problems.append(f"{report['never_accepted']} handoffs were never accepted")
    if report["lost"]:
        problems.append(f"{report['lost']} accepted handoffs were lost")
    if report["duplicates"]:
        problems.append(f"{report['duplicates']} duplicate rows")
    if report["dead_lettered_unexpectedly"]:
        problems.append(f"{report['dead_lettered_unexpectedly']} dead-lettered without a permanent fault")
    if report.get("dead_lettered", 0) > report.get("permanent_faults_injected", 0):
        problems.append("more dead letters than permanent faults injected")
    if report["accounted_for"] != report["accepted"]:
        problems.append("accepted != created or deliberately dead-lettered")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handoffs", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument(
        "--email-share", type=float, default=0.1, help="share of email conversations (incidents)"
    )
    args = parser.parse_args()
    report = run_soak(args.handoffs, args.rate, email_share=args.email_share)
    problems = verdict(report)
    report["problems"] = problems
    print_table(
        f"Fault soak: {args.handoffs} handoff events (+{report['redeliveries']} redelivered) at {args.rate:.0f}/s",
        [
            ("accepted (distinct handoffs)", str(report["accepted"])),
            ("redeliveries answered duplicate", str(report["duplicates_answered"])),
            (
                "created",
                f"{report['created']} ({report['work_items']} work items, {report['incidents']} incidents)",
            ),
            (
                "dead-lettered (permanent faults injected on purpose)",
                f"{report['dead_lettered']} of {report['permanent_faults_injected']} {json.dumps(report['dead_reasons'])}",
            ),
            ("duplicates", str(report["duplicates"])),
            ("lost", str(report["lost"])),
            (
                "OpenCX requests faulted",
                f"{report['opencx_faulted']} of {report['opencx_requests']} ({report['opencx_fault_rate']:.0%})",
            ),
            (
                "Dataverse requests faulted",
                f"{report['dataverse_faulted']} of {report['dataverse_requests']} "
                f"({report['dataverse_fault_rate']:.0%})",
            ),
            (
                "requests per handoff (faults and retries included)",
                f"OpenCX {report['opencx_requests_per_handoff']:.2f}, "
                f"Dataverse {report['dataverse_requests_per_handoff']:.2f} (token requests not counted)",
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
