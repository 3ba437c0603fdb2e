"""Operator tool: list, show (masked) and re-drive dead-lettered and poisoned handoffs.

    python -m ops.replay list  [--source deadletter|poison|both] [filters]
    python -m ops.replay show  --handoff-id ocx_123
    python -m ops.replay redrive --reason opencx_unauthorized [--dry-run] [--refetch]
    python -m ops.replay list --queue <MESSAGING_QUEUE> --source deadletter   (relayed messages)

Dead letters hold v2 queue messages (an OpenCX event, and the enrichment when it was fetched);
messages queued as v1 before an upgrade are still read and re-driven (as v2, their ids kept).
Reasons: invalid_message, permanent_error, attempts_exhausted, too_old, opencx_session_not_found,
opencx_unauthorized, opencx_forbidden, opencx_refused, and `poison` for the host's poison queue;
each record names its `target` (opencx or dataverse).

Re-driving puts the v2 message back on the handoff queue with `attempt`, `throttled` and its history
cleared and `receivedAt` set to now (a fresh age budget: a `too_old` handoff would otherwise be
dead-lettered again at once), keeping what was fetched from OpenCX unless `--refetch`. The source
message is deleted only after that send succeeded. It is safe to repeat: the row's id is derived
from the conversation and the handoffId, so Dataverse answers 412 to a second create.
Storage: `--connection-string` (default: $AzureWebJobsStorage) or `--account-name` with
DefaultAzureCredential (Storage Queue Data Contributor on the account).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shared.platform.masking import mask_email, mask_phone, scrub_text

PEEK_VISIBILITY_SECONDS = 30


@dataclass
class Found:
    """One message found on a source queue, decoded as far as it can be."""

    source: str
    queue_message: Any
    text: str
    reason: str | None
    handoff_id: str | None
    session_id: str | None
    message: dict[str, Any] | None  # the handoff queue message (v2, or v1 queued before an upgrade)
    record: dict[str, Any] | None  # the dead-letter record, for the deadletter queue

    @property
    def replayable(self) -> bool:
        return self.message is not None


def _decode(content: Any) -> str:
    raw = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return raw  # a message someone wrote without base64


def _parse(source: str, queue_message: Any) -> Found:
    text = _decode(queue_message.content)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return Found(source, queue_message, text, "unparseable", None, None, None, None)
    if source == "deadletter":
        message = data.get("message") if isinstance(data.get("message"), dict) else None
        return Found(
            source, queue_message, text, data.get("reason"), data.get("handoffId"), data.get("sessionId"),
            message, data,
        )  # fmt: skip
    return Found(
        source, queue_message, text, "poison", data.get("handoffId"), _session_of(data),
        data if data.get("v") in (1, 2) else None, None,
    )  # fmt: skip


def _session_of(message: dict[str, Any]) -> str | None:
    """The conversation id of a v2 message (`event.conversation_id`) or of a v1 one (`handoff.sessionId`)."""
    if message.get("v") == 1:
        handoff = message.get("handoff")
        return handoff.get("sessionId") if isinstance(handoff, dict) else None
    event = message.get("event")
    return event.get("conversation_id") if isinstance(event, dict) else None


class Storage:
    """Raw queue clients (no encode policy: poison messages may not be base64)."""

    def __init__(self, connection_string: str | None, account_name: str | None) -> None:
        self.connection_string = connection_string
        self.account_name = account_name
        self._credential: Any = None

    def client(self, queue: str) -> Any:
        from azure.storage.queue import QueueClient

        if self.connection_string:
            return QueueClient.from_connection_string(self.connection_string, queue)
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        return QueueClient(
            f"https://{self.account_name}.queue.core.windows.net", queue, credential=self._credential
        )


def scan(
    storage: Storage, queue: str, sources: Sequence[str], visibility: int
) -> Iterator[tuple[Any, Found]]:
    """Every message of the sources. Each is hidden for `visibility` s while we hold it."""
    from azure.core.exceptions import ResourceNotFoundError

    for source in sources:
        client = storage.client(f"{queue}-{source}")
        try:
            for queue_message in client.receive_messages(messages_per_page=32, visibility_timeout=visibility):
                yield client, _parse(source, queue_message)
        except ResourceNotFoundError:
            continue


def _release(client: Any, found: Found) -> None:
    """Make a message we only looked at visible again at once."""
    from azure.core.exceptions import AzureError

    with contextlib.suppress(AzureError):  # else it reappears when its visibility timeout ends
        client.update_message(found.queue_message, visibility_timeout=0)


def matches(found: Found, args: argparse.Namespace) -> bool:
    if args.session_id and found.session_id != args.session_id:
        return False
    if args.handoff_id and found.handoff_id != args.handoff_id:
        return False
    return not (args.reason and found.reason != args.reason)


def masked(found: Found) -> dict[str, Any]:
    """The record for a human: customer fields masked, free text scrubbed, transcript summarised."""
    shown: dict[str, Any] = {
        "source": found.source,
        "reason": found.reason,
        "handoffId": found.handoff_id,
        "sessionId": found.session_id,
        "replayable": found.replayable,
    }
    if found.record:
        for key in (
            "target",
            "lastStatus",
            "errorCode",
            "attempts",
            "firstAttemptAt",
            "lastAttemptAt",
            "deadLetteredAt",
        ):
            shown[key] = found.record.get(key)
        for key in ("errorMessage", "action"):
            if found.record.get(key):
                shown[key] = scrub_text(str(found.record[key]))
    if found.message:
        shown["handoff"] = _masked_message(found.message)
    return shown


def _masked_message(raw: dict[str, Any]) -> dict[str, Any]:
    """A queue message, v2 or v1, as an operator may see it: nothing that identifies the customer."""
    from shared.opencx.handoff_message import ValidationError, parse_message

    try:
        message = parse_message(json.dumps(raw))
    except ValidationError:
        return {"unreadable": True}
    event = message.event
    enrichment = message.enrichment
    customer = enrichment.customer if enrichment else None
    summary = event.summary or (enrichment.summary if enrichment else None) or ""
    return {
        "channel": enrichment.channel if enrichment else None,
        "enriched": enrichment is not None,
        "attempt": message.attempt,
        "throttled": message.throttled,
        "receivedAt": message.receivedAt.isoformat(),
        "eventTimestamp": event.timestamp,
        "contactReason": event.contact_reason,
        "summary": scrub_text(str(summary))[:200],
        "customer": {
            "name": (customer.name[:1] + "***") if customer and customer.name else None,
            "phone": mask_phone(customer.phone) if customer else None,
            "email": mask_email(customer.email) if customer else None,
        },
        "transcriptLines": len(enrichment.transcript) if enrichment else 0,
        "history": [
            {
                "attempt": h.attempt,
                "at": h.at.isoformat(),
                "outcome": h.outcome,
                "target": h.target,
                "status": h.status,
                "code": h.code,
            }
            for h in message.history
        ],
    }


def _replay_text(found: Found, refetch: bool = False) -> str:
    """The message as v2 with fresh budgets (see the module's docstring)."""
    from datetime import UTC, datetime

    from shared.opencx.handoff_message import parse_message

    if (found.message or {}).get("type") == "resend":  # a relayed message (--queue <MESSAGING_QUEUE>)
        from shared.messaging.relay_message import RelayMessage

        return RelayMessage.model_validate(found.message).to_json()
    message = parse_message(json.dumps(found.message))
    update: dict[str, Any] = {
        "attempt": 0,
        "throttled": 0,
        "history": [],
        "firstAttemptAt": None,
        "receivedAt": datetime.now(UTC),
    }
    if refetch and not message.legacyIds:  # a v1 message's enrichment is all there is: keep it
        update["enrichment"] = None
    return message.model_copy(update=update).to_json()


def redrive(
    storage: Storage, queue: str, client: Any, found: Found, dry_run: bool, refetch: bool = False
) -> str:
    """Send, then delete the source. Returns what happened, for the operator's log. A message not
    re-driven stays hidden until the scan ends, else the scan would receive it again."""
    from shared.opencx.handoff_message import ValidationError

    if not found.replayable:
        return "skipped (no handoff message to replay)"
    try:
        text = _replay_text(found, refetch)
    except ValidationError:
        return "skipped (the message is not a valid v1 or v2 handoff message)"
    if dry_run:
        return "would re-drive"
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

    target = storage.client(queue)
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")  # host.json: base64
    try:
        target.send_message(encoded, time_to_live=-1)
    except ResourceNotFoundError:
        with contextlib.suppress(ResourceExistsError):
            target.create_queue()
        target.send_message(encoded, time_to_live=-1)
    client.delete_message(found.queue_message)
    return "re-driven"


def _sources(choice: str) -> list[str]:
    return ["deadletter", "poison"] if choice == "both" else [choice]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ops.replay", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["list", "show", "redrive"])
    parser.add_argument("--source", choices=["deadletter", "poison", "both"], default="both")
    parser.add_argument("--session-id")
    parser.add_argument("--handoff-id")
    parser.add_argument(
        "--reason",
        help="invalid_message, permanent_error, attempts_exhausted, too_old, opencx_session_not_found, "
        "opencx_unauthorized, opencx_forbidden, opencx_refused or poison",
    )
    parser.add_argument("--all", action="store_true", help="redrive every message (no filter needed)")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument(
        "--refetch",
        action="store_true",
        help="drop what was fetched from OpenCX, so the worker reads it again",
    )
    parser.add_argument("--queue", default=os.environ.get("HANDOFF_QUEUE", "handoffs"))
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--connection-string", default=None)
    where.add_argument("--account-name", default=None)
    args = parser.parse_args(argv)
    if not args.account_name and not args.connection_string:
        args.connection_string = os.environ.get("AzureWebJobsStorage") or None  # noqa: SIM112 - the host's name
    if not args.account_name and not args.connection_string:
        parser.error("give --connection-string, --account-name, or set AzureWebJobsStorage")
    if args.command == "redrive" and not (args.all or args.session_id or args.handoff_id or args.reason):
        parser.error("redrive needs a selection: --all, --session-id, --handoff-id or --reason")
    return args


def main(argv: Sequence[str] | None = None, out: Any = None) -> int:
    """Run one command; print JSON lines (list/redrive) or one JSON document per message (show)."""
    out = out or sys.stdout
    args = parse_args(argv)
    storage = Storage(args.connection_string, args.account_name)
    visibility = 60 if args.command == "redrive" else PEEK_VISIBILITY_SECONDS
    held: list[tuple[Any, Found]] = []
    count = 0
    try:
        for client, found in scan(storage, args.queue, _sources(args.source), visibility):
            if not matches(found, args):
                held.append((client, found))
                continue
            count += 1
            if args.command == "redrive":
                outcome = redrive(storage, args.queue, client, found, args.dry_run, args.refetch)
                if outcome != "re-driven":
                    held.append((client, found))
                line = {k: masked(found)[k] for k in ("source", "reason", "handoffId", "sessionId")}
                print(json.dumps({**line, "result": outcome}), file=out)
                continue
            held.append((client, found))
            shown = masked(found)
            if args.command == "list":
                shown.pop("handoff", None)
                print(json.dumps(shown), file=out)
            else:
                print(json.dumps(shown, indent=2), file=out)
    finally:
        for client, found in held:
            _release(client, found)
    print(f"{count} message(s) matched", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
