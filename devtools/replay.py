"""Operator tool: list, show (masked) and re-drive dead-lettered and poisoned handoffs.

    python -m devtools.replay list  [--source deadletter|poison|both] [filters]
    python -m devtools.replay show  --handoff-id msg_123
    python -m devtools.replay redrive --reason permanent_error [--dry-run]
    python -m devtools.replay list --queue <MESSAGING_QUEUE> --source deadletter   (relayed messages)

Re-driving puts a v1 message back on the handoff queue with `attempt` 0 and its history cleared,
and deletes the source message only after that send succeeded. It is safe to repeat: the work
item's activityid is derived from the handoffId, so Dataverse answers 412 to a second create.
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
    message: dict[str, Any] | None  # the v1 handoff message, when there is one
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
    handoff = data.get("handoff") if isinstance(data.get("handoff"), dict) else {}
    return Found(
        source, queue_message, text, "poison", data.get("handoffId"), handoff.get("sessionId"),
        data if data.get("v") == 1 else None, None,
    )  # fmt: skip


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
    message = found.message or {}
    handoff = message.get("handoff") or {}
    customer = handoff.get("customer") or {}
    if handoff:
        shown["handoff"] = {
            "channel": handoff.get("channel"),
            "attempt": message.get("attempt"),
            "receivedAt": message.get("receivedAt"),
            "summary": scrub_text(str(handoff.get("summary", "")))[:200],
            "customer": {
                "name": (str(customer["name"])[:1] + "***") if customer.get("name") else None,
                "phone": mask_phone(customer.get("phone")),
                "email": mask_email(customer.get("email")),
            },
            "transcriptLines": len(handoff.get("transcript") or []),
            "history": [
                {k: h.get(k) for k in ("attempt", "at", "status", "code")}
                for h in message.get("history") or []
            ],
        }
    return shown


def _replay_text(found: Found) -> str:
    from shared.platform.queue_message import HandoffMessage

    if (found.message or {}).get("type") == "resend":  # a relayed message (--queue <MESSAGING_QUEUE>)
        from shared.messaging.relay_message import RelayMessage

        return RelayMessage.model_validate(found.message).to_json()

    message = HandoffMessage.model_validate(found.message)
    fresh = message.model_copy(update={"attempt": 0, "history": [], "firstAttemptAt": None})
    return fresh.to_json()


def redrive(storage: Storage, queue: str, client: Any, found: Found, dry_run: bool) -> str:
    """Send, then delete the source. Returns what happened, for the operator's log. A message not
    re-driven stays hidden until the scan ends, else the scan would receive it again."""
    if not found.replayable:
        return "skipped (no v1 message to replay)"
    text = _replay_text(found)
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
    parser = argparse.ArgumentParser(prog="python -m devtools.replay", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["list", "show", "redrive"])
    parser.add_argument("--source", choices=["deadletter", "poison", "both"], default="both")
    parser.add_argument("--session-id")
    parser.add_argument("--handoff-id")
    parser.add_argument("--reason", help="invalid_message, permanent_error, attempts_exhausted or poison")
    parser.add_argument("--all", action="store_true", help="redrive every message (no filter needed)")
    parser.add_argument("--dry-run", action="store_true")
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
                outcome = redrive(storage, args.queue, client, found, args.dry_run)
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
