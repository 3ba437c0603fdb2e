"""`make demo` (README, "Running locally"): the bridge end to end on this machine, on the embedded defaults.

One handoff at a time, so the simulators' request records between two sends are that handoff's own.
Then the concierge scene (docs/concierge.md): with CONCIERGE on, one SMS handoff inside operating hours
with a line (the customer gets the acknowledgment: place and usual wait) and one at night (the customer
gets when the team is back, in CONCIERGE_TIME_ZONE). The schedule is the Dataverse simulator's
(devtools/dataverse_sim/availability.py), its clock pinned to a Tuesday so the output is the same every
day. Exits 1 if anything is missing after 60 s, so CI and people can trust the exit code.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from devtools.dataverse_sim import DataverseSimulator
from devtools.opencx_sim import DEMO_SESSIONS
from devtools.send_handoff import send
from devtools.stack import Stack
from shared.dynamics.columns import derived_id
from shared.dynamics.work_item import CHANNEL_OPTION
from shared.platform.masking import mask_email, mask_phone

CHANNELS = ("sms", "whatsapp", "web", "email")
WAIT_SECONDS = 60.0
SETTLE_SECONDS = 0.3  # no new simulator request for this long: the handoff's work is done
CHANNEL_NAMES = {option: channel for channel, option in CHANNEL_OPTION.items()}
_CREATED = re.compile(r"handoff\.created (?P<rest>.*)")
ZONE = "America/New_York"
CONCIERGE = {"CONCIERGE": "true", "CONCIERGE_TIME_ZONE": ZONE}
HOURS = {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
SCENES = (
    ("inside hours, 3 waiting", {"now": "2026-12-08T15:30:00Z", "line": 3, "average_wait_seconds": 185}),
    ("at night", {"now": "2026-12-08T03:00:00Z", "line": 0, "average_wait_seconds": None}),
)


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not (held := predicate()) and time.monotonic() < deadline:
        time.sleep(interval)
    return bool(held)


@dataclass
class Handoff:
    """One demo handoff: what was sent, what came back, what it cost."""

    channel: str
    session_id: str
    status: int = 0
    row_id: str | None = None
    latency_ms: float | None = None  # None: no row
    requests: list[str] = field(default_factory=list)  # OpenCX's, then Dataverse's

    @property
    def live(self) -> bool:
        return self.channel != "email"


def row_of(dataverse: DataverseSimulator, handoff: Handoff) -> dict[str, Any] | None:
    if handoff.row_id is None:
        return None
    return dataverse.work_item(handoff.row_id) if handoff.live else dataverse.incident(handoff.row_id)


def run_handoff(stack: Stack, handoff: Handoff, timeout: float = WAIT_SECONDS) -> None:
    """POST the envelope to `?code=`, wait for its row and for both simulators to go quiet (AddToQueue
    follows the incident's create, the worker's status write follows both), then slice their records."""
    opencx, dataverse = stack.opencx, stack.simulator
    assert opencx is not None and dataverse is not None
    body = json.dumps(opencx.handoff_event(handoff.session_id)).encode()
    before = (len(opencx.requests), len(dataverse.requests))
    sent_at = time.monotonic()
    handoff.status, answer = send(body, stack.webhook_url, key=stack.function_key)
    print(f"  POST {handoff.channel:<9} -> {handoff.status} {answer.strip()[:110]}")
    try:
        handoff.row_id = derived_id(handoff.session_id, json.loads(answer)["handoffId"])
    except (ValueError, KeyError, TypeError):
        return
    if wait_until(lambda: row_of(dataverse, handoff) is not None, timeout, interval=0.005):
        handoff.latency_ms = (time.monotonic() - sent_at) * 1000
    counts, quiet_since, deadline = before, time.monotonic(), time.monotonic() + 10
    while time.monotonic() < deadline and time.monotonic() - quiet_since < SETTLE_SECONDS:
        if (now := (len(opencx.requests), len(dataverse.requests))) != counts:
            counts, quiet_since = now, time.monotonic()
        time.sleep(0.02)
    opencx_records = opencx.requests[before[0] :]
    dataverse_records = [r for r in dataverse.requests[before[1] :] if r.operation != "token"]
    handoff.requests = [
        *_listing(f"OpenCX requests ({len(opencx_records)})", opencx_records),
        *_listing(
            f"Dataverse requests ({len(dataverse_records)}, token requests not counted)", dataverse_records
        ),
    ]


def _listing(title: str, records: list[Any]) -> list[str]:
    return [
        f"  {title}:",
        *(f"    {r.method} {r.path} -> {r.status or 'dropped'} ({r.operation})" for r in records),
    ]


def worker_log_fields(log: Path) -> dict[str, dict[str, str]]:
    """The worker's `handoff.created` dimensions (contactLinkage, ...), by the row id they name."""
    fields: dict[str, dict[str, str]] = {}
    for match in _CREATED.finditer(log.read_text(encoding="utf-8", errors="replace")):
        pairs = dict(p.split("=", 1) for p in match.group("rest").split() if "=" in p)
        if row := pairs.get("dynamics365_chat_id") or pairs.get("dynamics365_incident_id"):
            fields[row] = pairs
    return fields


def _contact(dataverse: DataverseSimulator, row: dict[str, Any], logged: dict[str, str]) -> str:
    contact_id = row.get("contact_id")
    contact = (dataverse.contact(contact_id) or {}) if contact_id else {}
    name = contact.get("fullname") or " ".join(
        str(contact[k]) for k in ("firstname", "lastname") if contact.get(k)
    )
    return f"{name or contact_id or 'none'} ({logged.get('contactLinkage', '?')})"


def _shown(name: str, value: str) -> str:
    """Phone and email masked, like every log line of the bridge (the rep sees them whole; a demo's
    output ends up in CI logs)."""
    masks = {"customerPhone": mask_phone, "customerEmail": mask_email}
    return (masks[name](value) or "") if name in masks else value


def render(dataverse: DataverseSimulator, handoff: Handoff, logged: dict[str, str]) -> str:
    """One row as the rep sees it: a live work item in the Agent app, or a case in Customer Service."""
    row = row_of(dataverse, handoff)
    title = f"\n{handoff.channel} (OpenCX conversation {handoff.session_id})"
    if row is None:
        kind = "WORK ITEM" if handoff.live else "INCIDENT"
        return f"{title}: NO {kind} after {WAIT_SECONDS:.0f}s (webhook answered {handoff.status})"
    if handoff.live:
        context = {c["msdyn_name"]: c["msdyn_value"] for c in row.get("context_items", [])}
        channel = row.get("msdyn_channel")
        workstream = dataverse._store.name_of("msdyn_liveworkstream", row["workstream_id"])
        lines = [
            f"{title}: live work item {handoff.row_id}",
            f"  subject:              {row.get('subject')}",
            f"  channel:              {CHANNEL_NAMES.get(str(channel), channel)}",
            f"  workstream:           {workstream or row['workstream_id']}",
            f"  phone:                {_shown('customerPhone', context.get('customerPhone', '')) or '(none)'}",
            f"  linked contact:       {_contact(dataverse, row, logged)}",
            "  context variables:    " + ", ".join(f"{k}={_shown(k, v)}" for k, v in context.items()),
        ]
    else:
        queued = any(q.get("objectid") == handoff.row_id for q in dataverse.queue_items)
        lines = [
            f"{title}: incident {handoff.row_id}",
            f"  title:                {row.get('title')}",
            f"  ticket number:        {row.get('ticketnumber')}",
            f"  customer:             {_contact(dataverse, row, logged)}",
            f"  priority:             {row.get('prioritycode')}",
            f"  in queue:             {'yes' if queued else 'no'}",
            f"  description:          {len(row.get('description') or '')} characters (header + transcript)",
        ]
    latency = f"  end-to-end latency:   {handoff.latency_ms:.0f} ms (webhook sent -> row in Dataverse)"
    return "\n".join([*lines, *handoff.requests, latency])


def run_concierge(dataverse: Any, opencx: Any, send_handoff: Callable[[str], Any]) -> list[str]:
    """Send the two scene handoffs (each on a new SMS session); the lines to print."""
    lines = ["", f"Concierge (CONCIERGE=true, CONCIERGE_TIME_ZONE={ZONE}): what the customer is told"]
    for label, script in SCENES:
        dataverse.availability.configure(script)
        session_id = opencx.add_session(channel="sms", name="Sam Ortiz", phone_number="+14155550188")
        send_handoff(session_id)
        wait_until(partial(opencx.sent_to, session_id), 30.0)
        sent = opencx.sent_to(session_id)
        lines += [f"  {label} (session {session_id}):", *([] if sent else ["    NO MESSAGE"])]
        for message in sent:
            lines.append(f"    SMS ({len(message.text or '')} chars): {message.text}")
            if custom := message.body.get("custom_data"):
                lines.append(f"    custom_data written to the OpenCX session: {custom}")
    return lines


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="handoff-demo-") as tmp:
        log = Path(tmp) / "runner.log"
        print(
            "Starting Azurite (in memory), the OpenCX and Dataverse simulators and the local Functions runner..."
        )
        stack = Stack(runner_log=log, settings=dict(CONCIERGE)).start()
        assert stack.simulator is not None
        # The first handoffs: the queue open with nothing known, so they get no message (as today).
        hours = {"enabled": True, "time_zone": ZONE, "hours": HOURS, "now": SCENES[0][1]["now"]}
        stack.simulator.availability.configure(hours)
        try:
            print(f"OpenCX webhook URL (as an admin pastes it): {stack.webhook_url}?code=<function key>")
            print("Sending conversation.handoff_to_human for the sms, whatsapp, web and email sessions:")
            handoffs = [Handoff(channel, DEMO_SESSIONS[channel]) for channel in CHANNELS]
            for handoff in handoffs:
                run_handoff(stack, handoff)
            time.sleep(0.2)  # let the worker's last log line reach the file
            logged = worker_log_fields(log)
            for handoff in handoffs:
                print(render(stack.simulator, handoff, logged.get(handoff.row_id or "", {})))
            missing = [h.channel for h in handoffs if h.latency_ms is None]
            told = run_concierge(
                stack.simulator, stack.opencx, lambda session: run_handoff(stack, Handoff("sms", session))
            )
            print("\n".join(told))
            if missing:
                print(f"\nMissing rows: {', '.join(missing)}. Runner log:\n{log.read_text()[-4000:]}")
        finally:
            stack.stop()
    print(
        f"\n{len(handoffs) - len(missing)}/{len(handoffs)} rows created (3 live work items, 1 incident expected);"
        f" demo took {time.monotonic() - started:.1f} s."
    )
    return 1 if missing or any("NO MESSAGE" in line for line in told) else 0


if __name__ == "__main__":
    sys.exit(main())
