"""`make demo`: the bridge end to end on this machine, on the embedded defaults.

Starts Azurite, the seeded Dataverse simulator and the local runner; sends the SMS, WhatsApp and
web samples signed over real HTTP; waits for their live work items; prints each as a rep would
see it with its end-to-end latency (webhook sent -> item visible in Dataverse); stops everything.
Exits 1 if any item is missing after 60 s, so CI and people can trust the exit code.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.azurite import PROJECT_ROOT
from devtools.send_handoff import send
from devtools.signing import new_webhook_id
from devtools.stack import Stack
from shared.dynamics.work_item import CHANNEL_OPTION, work_item_id

SAMPLES_DIR = PROJECT_ROOT / "tests" / "fixtures" / "v1"
SAMPLES = ("sms-handoff.json", "whatsapp-handoff.json", "web-handoff.json")
WAIT_SECONDS = 60.0
CHANNEL_NAMES = {option: channel.value for channel, option in CHANNEL_OPTION.items()}
_CREATED = re.compile(r"handoff\.created .*?dynamics365_chat_id=(?P<id>\S+)(?P<rest>.*)")


@dataclass
class Sent:
    sample: str
    webhook_id: str
    sent_at: float
    status: int
    seen_at: float | None = None

    @property
    def chat_id(self) -> str:
        return work_item_id(self.webhook_id)

    @property
    def latency_ms(self) -> float | None:
        return None if self.seen_at is None else (self.seen_at - self.sent_at) * 1000


def send_samples(stack: Stack) -> list[Sent]:
    """POST each sample, freshly signed, through the runner's real HTTP endpoint."""
    sent = []
    for name in SAMPLES:
        body = (SAMPLES_DIR / name).read_bytes()
        webhook_id = new_webhook_id()
        started = time.monotonic()
        status, text = send(body, stack.webhook_url, stack.function_key, stack.webhook_secret, webhook_id)
        print(f"  POST {name:<22} -> {status} {text.strip()[:100]}")
        sent.append(Sent(name, webhook_id, started, status))
    return sent


def wait_for_items(stack: Stack, sent: list[Sent], timeout: float = WAIT_SECONDS) -> None:
    """Poll the simulator every 10 ms, stamping when each item first becomes visible."""
    assert stack.simulator is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(s.seen_at is None for s in sent):
        for item in sent:
            if item.seen_at is None and stack.simulator.work_item(item.chat_id) is not None:
                item.seen_at = time.monotonic()
        time.sleep(0.01)


def worker_log_fields(log: Path) -> dict[str, dict[str, str]]:
    """contactLinkage / contactReason per dynamics365_chat_id, from the worker's handoff.created lines."""
    fields: dict[str, dict[str, str]] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _CREATED.search(line)
        if match:
            pairs = dict(p.split("=", 1) for p in match.group("rest").split() if "=" in p)
            fields[match.group("id")] = pairs
    return fields


def _contact_line(stack: Stack, row: dict[str, Any], logged: dict[str, str]) -> str:
    reason = logged.get("contactReason")
    linkage = logged.get("contactLinkage", "?")
    if row.get("contact_id"):
        contact = stack.simulator._store.contacts.get(row["contact_id"], {}) if stack.simulator else {}
        return f"{contact.get('fullname') or row['contact_id']} (linked by {linkage})"
    return f"none ({reason or linkage})"


def render(stack: Stack, item: Sent, logged: dict[str, str]) -> str:
    """One work item as the rep sees it in the Omnichannel Agent app."""
    assert stack.simulator is not None
    row = stack.simulator.work_item(item.chat_id)
    if row is None:
        return f"\n{item.sample}: NO WORK ITEM after {WAIT_SECONDS:.0f}s (webhook answered {item.status})"
    workstream = stack.simulator._store.workstream_name(row["workstream_id"]) or row["workstream_id"]
    context = ", ".join(f"{c['msdyn_name']}={c['msdyn_value']}" for c in row.get("context_items", []))
    return "\n".join(
        [
            f"\n{item.sample}",
            f"  subject:              {row.get('subject')}",
            f"  channel:              {CHANNEL_NAMES.get(str(row.get('msdyn_channel')), row.get('msdyn_channel'))}",
            f"  workstream:           {workstream}",
            f"  contact:              {_contact_line(stack, row, logged)}",
            f"  context variables:    {context}",
            f"  dynamics365_chat_id:  {item.chat_id}",
            f"  end-to-end latency:   {item.latency_ms:.0f} ms (webhook sent -> item in Dataverse)",
        ]
    )


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="handoff-demo-") as tmp:
        log = Path(tmp) / "runner.log"
        print("Starting Azurite (in memory), the Dataverse simulator and the local Functions runner...")
        stack = Stack(runner_log=log).start()
        try:
            print(f"Bridge listening on {stack.webhook_url}\nSending the three sample handoffs, signed:")
            sent = send_samples(stack)
            wait_for_items(stack, sent)
            time.sleep(0.2)  # let the worker's log line for the last item reach the file
            logged = worker_log_fields(log)
            for item in sent:
                print(render(stack, item, logged.get(item.chat_id, {})))
            missing = [s.sample for s in sent if s.seen_at is None]
            if missing:
                print(f"\nMissing work items: {', '.join(missing)}. Runner log:\n{log.read_text()[-4000:]}")
        finally:
            stack.stop()
    print(f"\n{3 - len(missing)}/3 live work items created; demo took {time.monotonic() - started:.1f} s.")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
