"""`make demo`: the bridge end to end on this machine, on the embedded defaults.

Starts Azurite, the seeded OpenCX and Dataverse simulators and the local runner; sends OpenCX's real
`conversation.handoff_to_human` envelope for the demo sms, whatsapp, web and email sessions over
real HTTP, to the webhook URL with `?code=<function key>` exactly as an OpenCX admin configures it
(no signature: OpenCX documents none). One handoff at a time, so the simulators' request records
between two sends are that handoff's own. Prints each row as a rep sees it (a live work item for a
chat channel, an incident with its ticket number for email), the OpenCX and Dataverse requests it
took and its end-to-end latency (webhook sent -> row visible in Dataverse). Exits 1 if anything is
missing after 60 s, so CI and people can trust the exit code.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools import demo_concierge
from devtools.dataverse_sim import DataverseSimulator
from devtools.opencx_sim import DEMO_SESSIONS, OpenCXSimulator
from devtools.send_handoff import send
from devtools.stack import Stack
from shared.dynamics.columns import derived_id
from shared.dynamics.work_item import CHANNEL_OPTION
from shared.platform.masking import mask_email, mask_phone

CHANNELS = ("sms", "whatsapp", "web", "email")
LIVE_CHANNELS = frozenset({"sms", "whatsapp", "web"})
WAIT_SECONDS = 60.0
SETTLE_SECONDS = 0.3  # no new simulator request for this long: the handoff's work is done
CHANNEL_NAMES = {option: channel for channel, option in CHANNEL_OPTION.items()}
_CREATED = re.compile(r"handoff\.created (?P<rest>.*)")


@dataclass
class Handoff:
    """One demo handoff: what was sent, what came back, what it cost."""

    channel: str
    session_id: str
    status: int = 0
    answer: str = ""
    handoff_id: str | None = None
    sent_at: float = 0.0
    seen_at: float | None = None
    opencx_requests: list[str] = field(default_factory=list)
    dataverse_requests: list[str] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.channel in LIVE_CHANNELS

    @property
    def row_id(self) -> str | None:
        return None if self.handoff_id is None else derived_id(self.session_id, self.handoff_id)

    @property
    def latency_ms(self) -> float | None:
        return None if self.seen_at is None else (self.seen_at - self.sent_at) * 1000


def row_of(dataverse: DataverseSimulator, handoff: Handoff) -> dict[str, Any] | None:
    row_id = handoff.row_id
    if row_id is None:
        return None
    return dataverse.work_item(row_id) if handoff.live else dataverse.incident(row_id)


def _settle(stack: Stack, deadline: float) -> None:
    """Wait until neither simulator has seen a request for SETTLE_SECONDS (AddToQueue follows the
    incident's create, and the worker's status write follows both)."""
    assert stack.opencx is not None and stack.simulator is not None
    last = (-1, -1)
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        now = (len(stack.opencx.requests), len(stack.simulator.requests))
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= SETTLE_SECONDS:
            return
        time.sleep(0.02)


def _describe(records: list[Any]) -> list[str]:
    return [f"{r.method} {r.path} -> {r.status or 'dropped'} ({r.operation})" for r in records]


def run_handoff(stack: Stack, handoff: Handoff, timeout: float = WAIT_SECONDS) -> None:
    """POST the envelope to `?code=`, wait for its row, then slice the simulators' records."""
    opencx, dataverse = stack.opencx, stack.simulator
    assert isinstance(opencx, OpenCXSimulator) and isinstance(dataverse, DataverseSimulator)
    body = json.dumps(opencx.handoff_event(handoff.session_id)).encode()
    opencx_before, dataverse_before = len(opencx.requests), len(dataverse.requests)
    handoff.sent_at = time.monotonic()
    handoff.status, handoff.answer = send(body, stack.webhook_url, key=stack.function_key)
    print(f"  POST {handoff.channel:<9} -> {handoff.status} {handoff.answer.strip()[:110]}")
    try:
        handoff.handoff_id = json.loads(handoff.answer).get("handoffId")
    except (ValueError, AttributeError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and handoff.seen_at is None:
        if row_of(dataverse, handoff) is not None:
            handoff.seen_at = time.monotonic()
        else:
            time.sleep(0.005)
    _settle(stack, time.monotonic() + 10)
    handoff.opencx_requests = _describe(opencx.requests[opencx_before:])
    handoff.dataverse_requests = _describe(
        [r for r in dataverse.requests[dataverse_before:] if r.operation != "token"]
    )


def worker_log_fields(log: Path) -> dict[str, dict[str, str]]:
    """The worker's `handoff.created` dimensions (contactLinkage, ...), by the row id they name."""
    fields: dict[str, dict[str, str]] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _CREATED.search(line)
        if match:
            pairs = dict(p.split("=", 1) for p in match.group("rest").split() if "=" in p)
            row = pairs.get("dynamics365_chat_id") or pairs.get("dynamics365_incident_id")
            if row:
                fields[row] = pairs
    return fields


def _contact_line(dataverse: DataverseSimulator, row: dict[str, Any], logged: dict[str, str]) -> str:
    linkage = logged.get("contactLinkage", "?")
    contact_id = row.get("contact_id")
    if contact_id:
        contact = dataverse.contact(contact_id) or {}
        name = contact.get("fullname") or " ".join(
            str(contact.get(k)) for k in ("firstname", "lastname") if contact.get(k)
        )
        return f"{name or contact_id} ({linkage})"
    return f"none ({linkage})"


def _requests_lines(handoff: Handoff) -> list[str]:
    lines = [f"  OpenCX requests ({len(handoff.opencx_requests)}):"]
    lines += [f"    {r}" for r in handoff.opencx_requests]
    lines.append(f"  Dataverse requests ({len(handoff.dataverse_requests)}, token requests not counted):")
    lines += [f"    {r}" for r in handoff.dataverse_requests]
    return lines


def render(stack: Stack, handoff: Handoff, logged: dict[str, str]) -> str:
    """One row as the rep sees it: a live work item in the Agent app, or a case in Customer Service."""
    dataverse = stack.simulator
    assert dataverse is not None
    row = row_of(dataverse, handoff)
    title = f"\n{handoff.channel} (OpenCX conversation {handoff.session_id})"
    if row is None:
        kind = "WORK ITEM" if handoff.live else "INCIDENT"
        return f"{title}: NO {kind} after {WAIT_SECONDS:.0f}s (webhook answered {handoff.status})"
    latency = f"  end-to-end latency:   {handoff.latency_ms:.0f} ms (webhook sent -> row in Dataverse)"
    if handoff.live:
        context = {c["msdyn_name"]: c["msdyn_value"] for c in row.get("context_items", [])}
        phone = context.get("customerPhone")
        workstream = (
            dataverse._store.name_of("msdyn_liveworkstream", row["workstream_id"]) or row["workstream_id"]
        )
        lines = [
            f"{title}: live work item {handoff.row_id}",
            f"  subject:              {row.get('subject')}",
            f"  channel:              {CHANNEL_NAMES.get(str(row.get('msdyn_channel')), row.get('msdyn_channel'))}",
            f"  workstream:           {workstream}",
            f"  phone:                {mask_phone(phone) if phone else '(none)'}",
            f"  linked contact:       {_contact_line(dataverse, row, logged)}",
            "  context variables:    " + ", ".join(f"{k}={_shown(k, v)}" for k, v in context.items()),
        ]
    else:
        queued = [q for q in dataverse.queue_items if q.get("objectid") == handoff.row_id]
        lines = [
            f"{title}: incident {handoff.row_id}",
            f"  title:                {row.get('title')}",
            f"  ticket number:        {row.get('ticketnumber')}",
            f"  customer:             {_contact_line(dataverse, row, logged)}",
            f"  priority:             {row.get('prioritycode')}",
            f"  in queue:             {'yes' if queued else 'no'}",
            f"  description:          {len(row.get('description') or '')} characters (header + transcript)",
        ]
    return "\n".join([*lines, *_requests_lines(handoff), latency])


def _shown(name: str, value: str) -> str:
    """Context values as the demo prints them: phone and email masked, like every log line of the bridge
    (the rep sees them whole; a demo's output ends up in CI logs)."""
    if name == "customerPhone":
        return mask_phone(value) or ""
    if name == "customerEmail":
        return mask_email(value) or ""
    return value


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="handoff-demo-") as tmp:
        log = Path(tmp) / "runner.log"
        print(
            "Starting Azurite (in memory), the OpenCX and Dataverse simulators and the local Functions runner..."
        )
        stack = Stack(runner_log=log, settings=dict(demo_concierge.SETTINGS)).start()
        demo_concierge.open_without_line(stack.simulator)
        try:
            print(f"OpenCX webhook URL (as an admin pastes it): {stack.webhook_url}?code=<function key>")
            print("Sending conversation.handoff_to_human for the sms, whatsapp, web and email sessions:")
            handoffs = [Handoff(channel, DEMO_SESSIONS[channel]) for channel in CHANNELS]
            for handoff in handoffs:
                run_handoff(stack, handoff)
            time.sleep(0.2)  # let the worker's last log line reach the file
            logged = worker_log_fields(log)
            for handoff in handoffs:
                print(render(stack, handoff, logged.get(handoff.row_id or "", {})))
            missing = [h.channel for h in handoffs if h.seen_at is None]
            told = demo_concierge.run_scene(
                stack.simulator, stack.opencx, lambda session: run_handoff(stack, Handoff("sms", session))
            )
            print("\n".join(told))
            silent = not demo_concierge.all_told(told)
            if missing:
                print(f"\nMissing rows: {', '.join(missing)}. Runner log:\n{log.read_text()[-4000:]}")
        finally:
            stack.stop()
    made = len(handoffs) - len(missing)
    print(
        f"\n{made}/{len(handoffs)} rows created (3 live work items, 1 incident expected);"
        f" demo took {time.monotonic() - started:.1f} s."
    )
    return 1 if missing or silent else 0


if __name__ == "__main__":
    sys.exit(main())
