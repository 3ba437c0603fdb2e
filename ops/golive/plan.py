"""The plan, printed before anything runs, and the one confirmation asked before any write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ops.golive import labels
from shared.platform.settings import DeliveryMode, Settings


@dataclass(frozen=True)
class Choices:
    routing_probe: bool
    send_probe: bool
    session_id: str | None
    webhook_probe: bool
    wait_minutes: float
    token_wait_seconds: float
    watch_rep: str | None


def lines(settings: Settings, mode: DeliveryMode, origin: str, run_id: str, choices: Choices) -> list[str]:
    out = [
        f"Go-live check, run {run_id}, settings from {origin}, mode {mode.value}",
        f"  Dataverse {settings.dataverse_url}, OpenCX {settings.opencx_api_url}",
        "  0. Cleanup: remove what earlier runs left (work items whose subject starts with "
        f"'{labels.PROBE_PREFIX}', marked test conversations, the recorded token row)",
        "  1. Reads: Dataverse token, workstreams and their channels, privileges, OpenCX key scopes (no writes)",
    ]
    if choices.routing_probe:
        out.append(f"  2. WRITE: one test live work item on workstream {settings.workstream_for('sms')}, watched "
                   f"up to {choices.wait_minutes:g} min, then closed and deleted")  # fmt: skip
    else:
        out.append("  2. Routing probe: skipped (--routing-probe)")
    if choices.send_probe:
        out.append(f"  3. WRITE: one message as the agent into OpenCX session {choices.session_id}, "
                   "trying sender values until one is accepted")  # fmt: skip
    else:
        out.append("  3. Send probe: skipped (--send-probe --session <id>)")
    if choices.webhook_probe:
        out.append(f"  4. WRITE: one test conversation through the Messaging API, {choices.token_wait_seconds:g} s "
                   "for the webhook's token, then ended and its rows removed")  # fmt: skip
    else:
        out.append("  4. Webhook token probe: skipped (mode messaging only)")
    return out


def writes(choices: Choices) -> bool:
    return choices.routing_probe or choices.send_probe or choices.webhook_probe


def ask(input_fn: Callable[[str], str] = input) -> Callable[[str], bool]:
    """A yes/no question on the terminal; end of input counts as no."""

    def confirm(question: str) -> bool:
        try:
            return input_fn(question + " [y/N] ").strip().lower() in ("y", "yes")
        except EOFError:
            return False

    return confirm
