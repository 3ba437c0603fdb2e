"""`make demo` (README, "Running locally"): the bridge end to end on this machine, on the embedded defaults,
one handoff at a time (so the simulators' records between two sends are that handoff's own), then the
concierge scene (docs/concierge.md): an SMS handoff inside operating hours with a line, one at night, on
the Dataverse simulator's schedule with its clock pinned to a Tuesday, so the output is the same every
day. `make demo-messaging` (argument `messaging`): mode `messaging` end to end, each step printed with
what a person would see. Both exit 1 if anything is missing, so CI and people can trust the exit code.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from devtools.dataverse_sim import DataverseSimulator
from devtools.opencx_sim import DEMO_SESSIONS, SMS_SESSION_ID
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
STEP_SECONDS = 30.0
CUSTOMER_REPLY = "Friday after 2pm works, thanks!"
PHOTO_CAPTION = "The box arrived crushed"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 160  # a 40 KB "JPEG"
LABEL = b"%PDF-1.4\n" + b"return label " * 800


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> bool:
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
    read = dataverse.work_item if handoff.live else dataverse.incident
    return None if handoff.row_id is None else read(handoff.row_id)


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
    ours = opencx.requests[before[0] :]
    theirs = [r for r in dataverse.requests[before[1] :] if r.operation != "token"]
    handoff.requests = [
        f"  OpenCX requests ({len(ours)}):",
        *map(_request_line, ours),
        f"  Dataverse requests ({len(theirs)}, token requests not counted):",
        *map(_request_line, theirs),
    ]


def _request_line(r: Any) -> str:
    return f"    {r.method} {r.path} -> {r.status or 'dropped'} ({r.operation})"


def worker_log_fields(log: Path) -> dict[str, dict[str, str]]:
    """The worker's `handoff.created` dimensions (contactLinkage, ...), by the row id they name."""
    text = log.read_text(encoding="utf-8", errors="replace")
    lines = [dict(kv.split("=", 1) for kv in m["rest"].split() if "=" in kv) for m in _CREATED.finditer(text)]
    return {
        row: p for p in lines if (row := p.get("dynamics365_chat_id") or p.get("dynamics365_incident_id"))
    }


def _contact(dataverse: DataverseSimulator, row: dict[str, Any], logged: dict[str, str]) -> str:
    contact_id = row.get("contact_id")
    contact = (dataverse.contact(contact_id) or {}) if contact_id else {}
    first_last = " ".join(str(contact[k]) for k in ("firstname", "lastname") if contact.get(k))
    name = contact.get("fullname") or first_last
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
        lines = f"""{title}: live work item {handoff.row_id}
  subject:              {row.get("subject")}
  channel:              {CHANNEL_NAMES.get(str(channel), channel)}
  workstream:           {workstream or row["workstream_id"]}
  phone:                {_shown("customerPhone", context.get("customerPhone", "")) or "(none)"}
  linked contact:       {_contact(dataverse, row, logged)}
  context variables:    {", ".join(f"{k}={_shown(k, v)}" for k, v in context.items())}"""
    else:
        queued = any(q.get("objectid") == handoff.row_id for q in dataverse.queue_items)
        lines = f"""{title}: incident {handoff.row_id}
  title:                {row.get("title")}
  ticket number:        {row.get("ticketnumber")}
  customer:             {_contact(dataverse, row, logged)}
  priority:             {row.get("prioritycode")}
  in queue:             {"yes" if queued else "no"}
  description:          {len(row.get("description") or "")} characters (header + transcript)"""
    latency = f"  end-to-end latency:   {handoff.latency_ms:.0f} ms (webhook sent -> row in Dataverse)"
    return "\n".join([lines, *handoff.requests, latency])


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


@contextlib.contextmanager
def running(title: str, **options: Any) -> Iterator[tuple[Stack, Path]]:
    """A started stack whose runner logs to a temporary file, stopped on the way out."""
    with tempfile.TemporaryDirectory(prefix="handoff-demo-") as tmp:
        print(title, flush=True)
        stack = Stack(runner_log=Path(tmp) / "runner.log", **options)
        try:
            yield stack.start(), Path(tmp) / "runner.log"
        finally:
            stack.stop()


def main_handoffs() -> int:
    started = time.monotonic()
    title = (
        "Starting Azurite (in memory), the OpenCX and Dataverse simulators and the local Functions runner..."
    )
    with running(title, settings=dict(CONCIERGE)) as (stack, log):
        assert stack.simulator is not None
        # The first handoffs: the queue open with nothing known, so they get no message (as today).
        hours = {"enabled": True, "time_zone": ZONE, "hours": HOURS, "now": SCENES[0][1]["now"]}
        stack.simulator.availability.configure(hours)
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
    print(
        f"\n{len(handoffs) - len(missing)}/{len(handoffs)} rows created (3 live work items, 1 incident expected);"
        f" demo took {time.monotonic() - started:.1f} s."
    )
    return 1 if missing or any("NO MESSAGE" in line for line in told) else 0


class StepFailed(Exception):
    pass


def _wait(what: str, predicate: Callable[[], Any], started: float) -> float:
    """Milliseconds since `started` once `predicate` holds; StepFailed after STEP_SECONDS."""
    if not wait_until(predicate, STEP_SECONDS):
        raise StepFailed(f"{what}: not within {STEP_SECONDS:.0f} s")
    return (time.monotonic() - started) * 1000


def _say(step: str, text: str, ms: float | None = None) -> None:
    took = f"  ({ms:,.0f} ms)" if ms is not None else ""
    print(f"{step:<26}{text}{took}", flush=True)


def _short(text: str | None, limit: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _post(stack: Stack, event: Any) -> int:
    return send(json.dumps(event).encode(), stack.webhook_url, stack.function_key, stack.webhook_secret)[0]


def run_messaging(stack: Stack) -> None:
    msim, opencx = stack.messaging_parts.messaging, stack.messaging_parts.opencx
    sent_to = partial(opencx.sent_to, SMS_SESSION_ID)
    started = time.monotonic()
    status = _post(stack, opencx.handoff_event(SMS_SESSION_ID))
    _say("1. SMS handoff", f"POST /api/handoffs -> {status}  (OpenCX session {SMS_SESSION_ID[:8]}…)")
    if status != 202:
        raise StepFailed(f"the handoff was answered {status}")
    ms = _wait("the conversation", lambda: msim.conversations, started)
    conversation = msim.conversations[0]
    conversation_id, customer = conversation["conversationId"], conversation["customer"]
    _say("2. Conversation created", f"Dynamics conversation {conversation_id}", ms)
    _say("", f"customer: {customer.get('preferredname', '?')}, {mask_phone(customer.get('phonenumber'))}, "
             f"customerid = the OpenCX session")  # fmt: skip
    _say("", f"context: {', '.join(list(conversation['context'])[:8])}")
    start = conversation["startMessage"] or {}
    _say("", f"start message: {_short(start.get('message') if isinstance(start, dict) else str(start))}")
    ms = _wait("the greeting", sent_to, started)
    sent = sent_to()[0]
    got = f"OpenCX session got [{sent.sender}: {sent.agent_name}] {_short(sent.text)}"
    _say("3. Rep -> customer", got, ms)
    if sent.text != (msim.rep.greeting or ""):
        raise StepFailed("the first message at OpenCX is not the rep's greeting")

    started = time.monotonic()
    status = _post(stack, opencx.customer_reply(SMS_SESSION_ID, CUSTOMER_REPLY))

    def at_rep() -> bool:
        found = msim.store.get(conversation_id)
        return found is not None and any(m.get("text") == CUSTOMER_REPLY for m in found.customer_messages())

    ms = _wait("the customer's reply at the rep", at_rep, started)
    _say("4. Customer -> rep", f"contact_response -> {status}; the rep sees: {CUSTOMER_REPLY}", ms)
    ms = _wait("the rep's answer", lambda: len(sent_to()) >= 2, started)
    _say("", f"the rep answers, OpenCX got: {_short(sent_to()[1].text)}", ms)

    # A photo from the customer's phone to the rep, and a PDF from the rep to the customer's thread.
    started = time.monotonic()
    photo_file = ("damaged-box.jpg", "image/jpeg", PHOTO)
    status = _post(stack, opencx.customer_reply(SMS_SESSION_ID, PHOTO_CAPTION, files=[photo_file]))
    ms = _wait("the customer's photo at the rep", lambda: msim.received_attachments(conversation_id), started)
    photo = msim.received_attachments(conversation_id)[0]
    _say("5. Photo -> rep", f"contact_response -> {status}; the rep sees \"{PHOTO_CAPTION}\" with "
         f"{photo.name} ({photo.content_type}, {photo.size:,} bytes, embedded)", ms)  # fmt: skip
    started = time.monotonic()
    _, url = msim.rep.send_file(
        conversation_id, LABEL, "application/pdf", "return-label.pdf", text="Your return label"
    )
    ms = _wait("the rep's PDF at the customer", lambda: [m for m in sent_to() if m.attachments], started)
    [attachment] = next(m for m in sent_to() if m.attachments).body["message"]["attachments"]
    how = "base64 (its URL needs the Messaging API token)" if "base64" in attachment else "url"
    got = f"OpenCX send got {attachment['name']} ({attachment['mime_type']}) as {how}"
    _say("6. File -> customer", got, ms)
    _say("", f"the file host saw {msim.files.file(url).statuses}: a plain try, then the bridge's token")

    started = time.monotonic()
    msim.rep.end(conversation_id)
    ms = _wait(
        "the OpenCX session closed",
        lambda: any(u.session_id == SMS_SESSION_ID and u.body.get("status") == "closed_resolved"
                    for u in opencx.updates),
        started,
    )  # fmt: skip
    _say("7. Rep ends it", "AgentEndSession -> OpenCX session PATCHed closed_resolved", ms)
    request = urllib.request.Request(  # noqa: S310 - our loopback URL
        f"{stack.base_url}/api/handoffs/{SMS_SESSION_ID}", headers={"x-functions-key": stack.function_key}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our loopback URL
        row = json.loads(answer.read())["handoffs"][0]
    counts = row.get("messaging") or {}
    files = counts.get("files") or {}
    _say("8. Status API", f"{row['status']}, dynamics365_chat_id={row['dynamics365_chat_id']}, "
         f"to customer {counts.get('messagesToCustomer')}, to rep {counts.get('messagesToRep')}, "
         f"files {files.get('toCustomer', 0)} out / {files.get('toRep', 0)} in, conversation {counts.get('state')}")  # fmt: skip


def main_messaging() -> int:
    title = "Starting Azurite, the Dataverse, OpenCX and Messaging API simulators and the runner…"
    with running(title, messaging=True) as (stack, log):
        try:
            run_messaging(stack)
        except StepFailed as exc:
            print(f"FAILED: {exc}\n--- runner log (last 40 lines) ---", file=sys.stderr)
            print("\n".join(log.read_text().splitlines()[-40:]) if log.exists() else "", file=sys.stderr)
            return 1
    print("The loop is closed: handoff, conversation, both ways, ended.")
    return 0


def main(argv: list[str] | None = None) -> int:
    return main_messaging() if (sys.argv[1:] if argv is None else argv) == ["messaging"] else main_handoffs()


if __name__ == "__main__":
    sys.exit(main())
