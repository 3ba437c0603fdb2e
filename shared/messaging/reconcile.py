"""Rep messages the webhook never delivered: found in the conversation's messages and relayed.

Microsoft's webhook gives up after three failed attempts (`api-conversation-webhook.md`), so a
deploy or a cold start past 10 s loses a rep's words. `GET .../messages`
(`api-conversation-messages.md`) lists the conversation's messages with a `messageId` and a
`timestamp`, but `from` is empty in the sample, so whose a message is cannot be read from it. What
the bridge itself sent is known by id (the create answer's `messageId` for the start message, each
send answer's for a customer message) and, for a send whose answer was lost, by its text; every other
message is the rep's. A rep message is:
- *delivered* when a webhook entry with the same text arrived within MATCH_WINDOW of its timestamp
  (the entry then records the id);
- *lost* when it matches nothing: it is appended to the outbox toward the customer, keyed by its id,
  so a second look never sends it twice. A webhook copy that still arrives later (a retry, or a
  delivery in flight while the sweep read) is its *twin*: before sending a webhook entry with the
  same text as a recovered one, the drain counts the rep's messages with that text in the
  conversation and the entries that account for them, and sends only when there are more messages
  (a rep who says "ok" twice reaches the customer twice). Unreadable: sent (at least once).

Microsoft asks not to poll this endpoint, so it is a safety net, not the path: read before the
OpenCX session is closed at a conversation's end, and by a timer sweep for conversations quiet
for MESSAGING_RECONCILE_SECONDS, one read per conversation per sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.messaging import waiting
from shared.messaging.deps import RelayDeps
from shared.messaging.links import Link
from shared.messaging.outbox import Direction, Entry, EntryState
from shared.platform import telemetry
from shared.platform.failure import Failure, FailureKind, Upstream
from shared.platform.log import get_logger, log_event
from shared.platform.times import instant, iso_at

logger = get_logger("reconcile")

# How old a message must be before the sweep calls it lost. Zero: a message the webhook is still
# delivering may be recovered too, and its webhook copy is then recognised as a twin by the drain
# (`is_twin_of_recovered`), so nothing waits on a guess about Microsoft's retry timing.
SETTLE_SECONDS = 0.0
TWIN_WINDOW_SECONDS = 120.0  # Microsoft's three tries of 10 s end well within this
MATCH_BEFORE_SECONDS = 10.0  # a webhook entry received a little before the message's timestamp (skew)
MATCH_AFTER_SECONDS = 90.0  # ... or up to the last retry after it
OVERLAP_SECONDS = 120.0  # each read starts a little before where the last one ended
END_PAGES = 20  # at a conversation's end every page is read (a bound, not a target)


@dataclass(frozen=True)
class Reconciled:
    added: int = 0  # lost rep messages appended toward the customer
    matched: int = 0
    gone: bool = False  # the conversation's messages are no longer readable (404 / 30013)
    failure: Failure | None = None
    complete: bool = True


def _is_event(message: dict[str, Any]) -> bool:
    text = str(message.get("text") or "")
    return bool(message.get("name")) or text.startswith("EventName:") or str(message.get("type")) != "message"


def _text(message: dict[str, Any]) -> str:
    return str(message.get("text") or "").strip()


def reconcile(
    deps: RelayDeps,
    link: Link,
    *,
    settle_seconds: float = SETTLE_SECONDS,
    pages: int = 1,
    before: Entry | None = None,
) -> Reconciled:
    """Read the conversation's messages after the last look and relay the lost ones. `before`: the
    end entry they must be sent ahead of (every page is then read, and nothing is left to settle)."""
    messaging = deps.messaging
    if messaging is None:
        return Reconciled(
            failure=Failure(Upstream.MESSAGING, FailureKind.UNREACHABLE, message="mode messaging is off")
        )
    now = deps.clock()
    if before is not None:
        pages = END_PAGES
    start_at = instant(link.reconciled_until)
    start = iso_at(start_at - OVERLAP_SECONDS) if start_at is not None else None
    messages: list[dict[str, Any]] = []
    continuation: str | None = None
    complete = False
    for _ in range(pages):
        answer = messaging.list_messages(link.conversation_id, start=None if continuation else start,
                                         continuation=continuation)  # fmt: skip
        if not answer.ok:
            if answer.conversation_gone:
                return Reconciled(gone=True)
            return Reconciled(failure=Failure.of(Upstream.MESSAGING, answer))
        messages += answer.messages
        continuation = answer.continuation_token
        if not continuation or not answer.messages:
            complete = True
            break
    added, matched, unsettled = _relay_lost(deps, link, messages, now, settle_seconds, before)
    last_seen = max((instant(m.get("timestamp")) or 0.0 for m in messages), default=None)
    if complete:
        until = min([now - settle_seconds, *unsettled]) if unsettled else now - settle_seconds
    else:
        until = min([last_seen or now, *unsettled])
    # An incomplete read is due again at the next sweep: it goes on from where it stopped.
    deps.links.note(
        link.conversation_id, reconciledUntil=iso_at(until), reconciledAt=iso_at(now) if complete else None
    )
    if added:
        deps.links.note(link.conversation_id, lostFoundAt=iso_at(now))
        telemetry.count("relay.reconciled", atEnd=before is not None)
        log_event(logger, "relay.reconciled", conversationId=link.conversation_id, added=added, matched=matched,
                  atEnd=before is not None)  # fmt: skip
    return Reconciled(added=added, matched=matched, complete=complete)


def _relay_lost(
    deps: RelayDeps,
    link: Link,
    messages: list[dict[str, Any]],
    now: float,
    settle_seconds: float,
    before: Entry | None,
) -> tuple[int, int, list[float]]:
    outbox = deps.outbox
    to_customer = outbox.entries(link.conversation_id, Direction.TO_CUSTOMER)
    to_rep = outbox.entries(link.conversation_id, Direction.TO_REP)
    ours = _ours(link, to_rep)
    known = {e.message_id for e in to_customer if e.message_id}
    customer_words = [(e.text.strip(), instant(e.received_at) or 0.0) for e in to_rep if e.text]
    unmatched = [e for e in to_customer if not e.message_id and e.text and e.state is not EntryState.MOVED]
    added, matched, unsettled = 0, 0, []
    for message in sorted(messages, key=lambda m: instant(m.get("timestamp")) or 0.0):
        message_id = str(message.get("messageId") or message.get("messageid") or "")
        at = instant(message.get("timestamp"))
        if not message_id or at is None or _is_event(message) or message_id in ours or message_id in known:
            continue
        text = _text(message)
        if text and any(
            text == words and abs(at - sent) <= MATCH_AFTER_SECONDS for words, sent in customer_words
        ):
            continue  # the customer's own words, whose send answer was lost: never echoed back
        entry = _matching(unmatched, text, at)
        if entry is not None:
            unmatched.remove(entry)
            outbox.update(entry, messageId=message_id)
            matched += 1
            continue
        if now - at < settle_seconds:
            unsettled.append(at)
            continue
        received = min(at, (instant(before.received_at) or now) - 0.001) if before is not None else at
        lost = Entry(
            conversation_id=link.conversation_id,
            direction=Direction.TO_CUSTOMER,
            text=text or None,
            attachments=[a for a in message.get("attachments") or [] if isinstance(a, dict)],
            received_at=iso_at(received),
            message_id=message_id,
            recovered=True,
        )
        if not lost.text and not lost.attachments:
            continue
        if not outbox.append(lost, f"mid:{message_id}").duplicate:
            added += 1
            known.add(message_id)
    return added, matched, unsettled


def _ours(link: Link, to_rep: list[Entry]) -> set[str | None]:
    """The Messaging API ids of what the bridge itself sent: the start message and the customer's words."""
    return {link.start_message_id}.union(*(entry.sent_ids for entry in to_rep))


def _matching(entries: list[Entry], text: str, at: float) -> Entry | None:
    for entry in entries:
        received = instant(entry.received_at)
        if received is None or (entry.text or "").strip() != text:
            continue
        if at - MATCH_BEFORE_SECONDS <= received <= at + MATCH_AFTER_SECONDS:
            return entry
    return None


SWEEP_PK, SWEEP_RK = "reconcile", "last-sweep"  # health reads when the timer last ran


def last_sweep(deps: RelayDeps) -> float | None:
    """When the last sweep ended (epoch seconds), or None."""
    row = deps.store.get(SWEEP_PK, SWEEP_RK)
    return float(row["at"]) if row and row.get("at") is not None else None


def sweep(deps: RelayDeps, *, limit: int = 200) -> dict[str, int]:
    """The timer's work: every open conversation quiet for MESSAGING_RECONCILE_SECONDS is read once;
    lost messages are queued for the customer; a waiting customer's place in line is refreshed;
    dedup rows that can no longer match are purged, and an ended conversation's once, a day on."""
    interval = deps.settings.messaging_reconcile_seconds
    now = deps.clock()
    report = {"due": 0, "added": 0, "gone": 0, "failed": 0, "purged": 0, "position_updates": 0}
    for link in deps.links.open_conversations(limit):
        if waiting.refresh(deps, link) == "told":
            report["position_updates"] += 1
        last = instant(link.reconciled_at) or instant(link.created_at) or 0.0
        if link.reconcile_gone or now - last < interval:
            continue
        report["due"] += 1
        checked = reconcile(deps, link)
        if checked.gone:
            report["gone"] += 1
            deps.links.note(link.conversation_id, reconcileGone=True, reconciledAt=iso_at(now))
        elif checked.failure is not None:
            report["failed"] += 1
            deps.links.note(link.conversation_id, reconciledAt=iso_at(now))  # not again until due
        if checked.added:
            report["added"] += checked.added
            deps.queue.drain_later(link.conversation_id, Direction.TO_CUSTOMER)
        report["purged"] += deps.outbox.purge(link.conversation_id)
    for ended in deps.links.due_for_purge(now, limit):
        report["purged"] += deps.outbox.purge(ended)
        deps.links.purged(ended)
    deps.store.merge({"PartitionKey": SWEEP_PK, "RowKey": SWEEP_RK, "at": now, **report})
    telemetry.count("relay.reconcile_sweeps")
    log_event(logger, "relay.reconcile_sweep", **report)
    return report


def is_twin_of_recovered(deps: RelayDeps, entry: Entry, link: Link) -> bool:
    """Whether this entry is a second copy of one rep message: one came by the webhook, one was
    recovered by the reconciliation. Asked for a recovered entry, and for any entry while a recent
    look recovered something; then the rep's messages with this text close in time are counted
    against the entries with this text that reached the customer, and the entry is a twin when they
    are all accounted for. Cannot tell (the read fails): not a twin, so it is sent (at least once)."""
    received = instant(entry.received_at)
    found_at = instant(link.lost_found_at)
    # A copy arrives after the recovery, or was waiting to be sent when it happened.
    recent = found_at is not None and received is not None and received - found_at <= TWIN_WINDOW_SECONDS
    if received is None or deps.messaging is None or not (entry.recovered or recent):
        return False
    wanted = (entry.text or "").strip()
    nearby = [
        other
        for other in deps.outbox.entries(link.conversation_id, Direction.TO_CUSTOMER)
        if other.seq != entry.seq
        and (other.text or "").strip() == wanted
        and abs((instant(other.received_at) or 0.0) - received) <= TWIN_WINDOW_SECONDS
    ]
    if not nearby or not (entry.recovered or any(other.recovered for other in nearby)):
        return False
    delivered = [other for other in nearby if other.state is EntryState.SENT and not other.twin]
    if not delivered:
        return False
    start = min([received, *(instant(o.received_at) or received for o in nearby)]) - TWIN_WINDOW_SECONDS
    answer = deps.messaging.list_messages(link.conversation_id, start=iso_at(start))
    if not answer.ok:
        return False
    ours = _ours(link, deps.outbox.entries(link.conversation_id, Direction.TO_REP))
    said = [
        message
        for message in answer.messages
        if not _is_event(message)
        and str(message.get("messageId") or "") not in ours
        and _text(message) == wanted
        and abs((instant(message.get("timestamp")) or 0.0) - received) <= TWIN_WINDOW_SECONDS
    ]
    twin = len(said) <= len(delivered)
    if twin:
        log_event(logger, "relay.twin_skipped", conversationId=link.conversation_id, seq=entry.seq)
    return twin
