"""A conversation Dynamics ended without telling us, continued in a new one.

A conversation stays active "until a representative ends the conversation, the conversation enters
a waiting state, or a timeout rule ends the conversation" (`api-conversation-create.md`); no
webhook event is documented for the last two. The first sign is a customer message answered
"conversation does not exist" (404 / 30013). Then the session gets a new conversation: `create` with
the same `customerid` (the OpenCX session id) returns the live conversation if there is one, else a
new one; the same customer and conversation context; a start message saying which conversation it
continues, with its last lines; and the customer's waiting messages move there, each once (keyed
by the conversation and entry they came from). The OpenCX session stays open: only a real end
closes it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shared.messaging.bodies import MAX_CONTEXT_ENTRIES, build_create_body, build_start_message
from shared.messaging.conversation import START_DISPLAY_NAME
from shared.messaging.deps import RelayDeps
from shared.messaging.links import Link
from shared.messaging.outbox import Direction, Entry, EntryKind, EntryState
from shared.platform import telemetry
from shared.platform.failure import Failure, FailureKind, Upstream
from shared.platform.log import get_logger, log_event

logger = get_logger("continuation")
LAST_LINES = 10
_LABEL = {Direction.TO_REP: "Customer", Direction.TO_CUSTOMER: "Agent"}


def _last_lines(deps: RelayDeps, conversation_id: str) -> list[str]:
    """The earlier conversation's last words both ways, oldest first, from its outbox."""
    said: list[Entry] = []
    for direction in Direction:
        said += [
            entry
            for entry in deps.outbox.entries(conversation_id, direction, (EntryState.SENT,))
            if entry.kind is EntryKind.MESSAGE and entry.text
        ]
    said.sort(key=lambda entry: entry.seq)
    return [f"{_LABEL[entry.direction]}: {entry.text}" for entry in said[-LAST_LINES:]]


def continuation_body(deps: RelayDeps, link: Link) -> dict[str, Any]:
    context = link.create_context or {}
    customer = dict(context.get("customercontext") or {})
    customer["customerid"] = link.session_id  # the idempotency key: always the OpenCX session
    earlier = list(dict(context.get("conversationcontext") or {}).items())
    conversation_context = {"continuesConversation": {"isDisplayable": True, "value": link.conversation_id}}
    conversation_context.update(earlier[: MAX_CONTEXT_ENTRIES - 1])  # the documented 100 in all
    note = (
        f"This conversation continues {link.conversation_id} (OpenCX session {link.session_id}), "
        "which ended without notice while the customer was still writing. Its last messages follow."
    )
    body = build_create_body(
        link.session_id,
        first_name=customer.get("firstname"),
        last_name=customer.get("lastname"),
        preferred_name=customer.get("preferredname"),
        email=customer.get("email"),
        phone=customer.get("phonenumber"),
        context={},
        request_id=f"{link.handoff_id or link.session_id}:continued",
        start_message=build_start_message(note, _last_lines(deps, link.conversation_id)),
        start_display_name=START_DISPLAY_NAME,
        skip_deflection_bot=True,
    )
    body["conversationcontext"] = conversation_context  # already in the documented shape
    return body


def continue_conversation(deps: RelayDeps, link: Link) -> str | Failure:
    """The conversation that continues `link`'s, with the customer's waiting messages moved to it."""
    messaging = deps.messaging
    if messaging is None:
        return Failure(Upstream.MESSAGING, FailureKind.UNREACHABLE, message="mode messaging is off")
    current = deps.links.by_session(link.session_id)
    if current is not None and current.conversation_id != link.conversation_id and current.open:
        new_id = current.conversation_id  # a crash after the move, or a new handoff, got there first
    else:
        body = continuation_body(deps, link)
        answer = messaging.create_conversation(body)
        if not answer.ok:
            return Failure.of(Upstream.MESSAGING, answer)
        if not answer.conversation_id:
            return Failure(Upstream.MESSAGING, FailureKind.MALFORMED, status=answer.status,
                           message="create answered without a conversationId")  # fmt: skip
        if answer.conversation_id == link.conversation_id:
            # The service calls it active after all: the 404 was something else. Try again later.
            return Failure(Upstream.MESSAGING, FailureKind.TRANSIENT, status=answer.status,
                           message="create returned the conversation that refused the message")  # fmt: skip
        new_id = answer.conversation_id
        deps.links.record(
            link.session_id, new_id, link.handoff_id or link.session_id, link.channel, now=deps.clock(),
            context={"customercontext": body["customercontext"], "conversationcontext": body["conversationcontext"]},
            start_message_id=answer.message_id, continued_from=link.conversation_id,
        )  # fmt: skip
    moved = 0
    for entry in deps.outbox.pending(link.conversation_id, Direction.TO_REP):
        copy = replace(entry, conversation_id=new_id, seq=0, state=EntryState.PENDING, attempts=0,
                       claimed_at=None, etag=None, message_id=None)  # fmt: skip
        deps.outbox.append(copy, f"moved:{link.conversation_id}:{entry.seq}")
        deps.outbox.update(entry, state=EntryState.MOVED, movedTo=new_id)
        moved += 1
    telemetry.count("relay.continued")
    log_event(logger, "relay.continued", conversationId=link.conversation_id, newConversationId=new_id,
              sessionId=link.session_id, handoffId=link.handoff_id, moved=moved)  # fmt: skip
    return new_id
