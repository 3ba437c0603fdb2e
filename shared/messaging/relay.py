"""Relay messages both ways, in order and once each, through the outbox in the messaging table.

`accept` is what the two webhooks call: append the entry (deduplicated, numbered), queue a delayed
`drain` as the safety net, and try the fast path (a drain in a background thread, so the caller
answers at once). `drain` is what the queue function calls: under the direction's lock, send the
pending entries in sequence order, mark each sent; on a transient failure keep the lock as a
*backoff* (nobody overtakes the failed entry) and queue a drain for when it ends. A permanent
failure, or a spent budget, dead-letters that entry to `<MESSAGING_QUEUE>-deadletter` and goes on.

Once each: a sent entry is never sent again; the one gap is a crash after OpenCX accepted a send
and before the entry was marked sent (OpenCX's send has no idempotency key): it is sent again.
Never lost: an entry stays pending until it is sent or dead-lettered.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from shared.messaging import mapping
from shared.messaging.bodies import build_message_activity
from shared.messaging.client import MessagingClient
from shared.messaging.mapping import Busy, Direction, Entry, EntryState, MappingUnavailable
from shared.messaging.relay_message import RelayMessage
from shared.opencx.client import OpenCXClient
from shared.opencx.send import build_agent_message
from shared.opencx.session import next_cursor, transcript_lines
from shared.platform import telemetry
from shared.platform.deadletter import DeadLetterReason, DeadLetterRecord
from shared.platform.http import HttpResult
from shared.platform.log import get_logger, log_event
from shared.platform.masking import scrub_text
from shared.platform.queues import NEVER_EXPIRES, QueueProfile, queue_client, send
from shared.platform.retry_policy import Outcome, classify, retry_delay_seconds
from shared.platform.settings import Settings

logger = get_logger("relay")

SAFETY_DRAIN_SECONDS = 5  # the queued drain behind every fast path
UNMAPPED_RETRY_SECONDS = 1  # a rep's greeting can arrive before the mapping row is written
UNMAPPED_GIVE_UP_SECONDS = 600.0
CLOCK_SKEW_SECONDS = 2.0
DRAIN_BUDGET_SECONDS = 20.0  # then the lock is released and a fresh drain queued
MAX_ROUNDS = 50
# The fast path is on unless this is "false": bench/relay.py turns it off for its queue-only baseline.
FAST_PATH_SWITCH = "MESSAGING_RELAY_FAST_PATH"


@dataclass(frozen=True)
class Clients:
    opencx: OpenCXClient
    messaging: MessagingClient | None


# ---------------------------------------------------------------------------- queue plumbing


def deadletter_queue(settings: Settings) -> str:
    return settings.messaging_queue + "-deadletter"


def schedule(
    settings: Settings,
    conversation_id: str,
    direction: Direction,
    delay: int = 0,
    *,
    holder: str | None = None,
    profile: QueueProfile = QueueProfile.WORKER,
) -> None:
    """Queue a drain. Raises QueueUnavailable."""
    message = RelayMessage(conversationId=conversation_id, direction=direction, holder=holder)
    send(queue_client(settings.messaging_queue, profile), message.to_json(), visibility_timeout=delay or None)


# ---------------------------------------------------------------------------- accepting


_fast_path = ThreadPoolExecutor(max_workers=8, thread_name_prefix="relay-fast-path")
_in_flight: set[Any] = set()
_in_flight_lock = threading.Lock()


def wait_for_fast_paths(timeout: float = 15.0) -> None:
    """Block until background drains are done (tests, benchmarks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _in_flight_lock:
            if not _in_flight:
                return
        time.sleep(0.01)


def accept(
    entry: Entry,
    dedup_key: str,
    settings: Settings,
    clients: Any,
    *,
    fast_path: bool = True,
) -> str:
    """Record the entry durably: 'appended', 'duplicate' or 'queued' (the table was down: the entry
    travels in the queue message). Raises QueueUnavailable when nothing durable could be written."""
    try:
        appended = mapping.append(entry, dedup_key, settings)
    except MappingUnavailable as exc:
        log_event(logger, "relay.table_unavailable", logging.WARNING, error=str(exc))
        message = RelayMessage(
            type="activity", conversationId=entry.conversation_id, direction=entry.direction,
            dedupKey=dedup_key, entry=entry.fields(),
        )  # fmt: skip
        send(queue_client(settings.messaging_queue, QueueProfile.INGRESS), message.to_json())
        return "queued"
    if appended.duplicate:
        return "duplicate"
    schedule(
        settings, entry.conversation_id, entry.direction, SAFETY_DRAIN_SECONDS, profile=QueueProfile.INGRESS
    )
    if fast_path and os.environ.get(FAST_PATH_SWITCH, "true").strip().lower() != "false":
        future = _fast_path.submit(_fast_drain, entry.conversation_id, entry.direction, settings, clients)
        with _in_flight_lock:
            _in_flight.add(future)
        future.add_done_callback(_forget)
    return "appended"


def _forget(future: Any) -> None:
    with _in_flight_lock:
        _in_flight.discard(future)


def _fast_drain(conversation_id: str, direction: Direction, settings: Settings, clients: Any) -> None:
    try:
        resolved = clients() if callable(clients) else clients
        drain(conversation_id, direction, settings, resolved, reschedule_busy=False)
    except Exception as exc:  # the queued drain is the safety net; the fast path only saves time
        log_event(logger, "relay.fast_path_failed", logging.WARNING, error=type(exc).__name__)


# ---------------------------------------------------------------------------- draining


def drain(
    conversation_id: str,
    direction: Direction,
    settings: Settings,
    clients: Clients,
    *,
    holder: str | None = None,
    reschedule_busy: bool = True,
) -> str:
    """Send what is pending, in order. Returns what happened ('idle', 'drained', 'busy', 'waiting',
    'retrying', 'unmapped', 'continued'). Raises MappingUnavailable / QueueUnavailable: the queue
    message is then retried by the host, and nothing is lost."""
    for _ in range(MAX_ROUNDS):
        pending = mapping.entries(conversation_id, direction, settings=settings)
        if not pending:
            return "idle"
        try:
            lock = mapping.acquire(conversation_id, direction, holder, settings)
        except Busy as busy:
            if busy.backoff or not reschedule_busy:
                return "waiting" if busy.backoff else "busy"
            # A running drain re-checks before it lets go; this drain covers it crashing.
            schedule(settings, conversation_id, direction, max(1, int(busy.until - time.time()) + 1))
            return "busy"
        holder = None
        done, backoff = _drain_locked(lock, pending, settings, clients)
        if backoff is not None:
            mapping.release(lock, settings, backoff_until=time.time() + max(0.0, backoff - 0.5))
            schedule(settings, conversation_id, direction, backoff, holder=lock.holder)
            return done
        mapping.release(lock, settings)
        if done == "continued":
            schedule(settings, conversation_id, direction)
            return done
        # An entry appended while we held the lock is picked up by the next round.
    schedule(settings, conversation_id, direction)
    return "continued"


def _drain_locked(
    lock: mapping.Lock, pending: list[Entry], settings: Settings, clients: Clients
) -> tuple[str, int | None]:
    """(what happened, a backoff in seconds or None)."""
    conversation_id, direction = lock.conversation_id, lock.direction
    link = mapping.conversation_mapping(conversation_id, settings)
    if link is None:
        oldest = _age_seconds(pending[0].received_at)
        if oldest < UNMAPPED_GIVE_UP_SECONDS:
            # Soon at first (the mapping row is usually a moment late), then ever less often: a
            # conversation the bridge never started (another system's, a probe's) costs ~30 looks
            # over the give-up time, not one a second.
            return "unmapped", int(min(60.0, max(UNMAPPED_RETRY_SECONDS, oldest / 10)))
        for entry in pending:
            _dead_letter(entry, None, settings, HttpResult(status=404, error_message="unknown conversation"),
                         DeadLetterReason.PERMANENT_ERROR, "messaging")  # fmt: skip
        return "unmapped", None
    count = link.to_customer if direction is Direction.TO_CUSTOMER else link.to_rep
    started = time.monotonic()
    for entry in pending:
        if time.monotonic() - started > DRAIN_BUDGET_SECONDS:
            return "continued", None
        if entry.state is EntryState.SENDING and time.time() - (entry.claimed_at or 0) < mapping.LOCK_SECONDS:
            return "claimed_elsewhere", int(mapping.LOCK_SECONDS)  # a drain that lost its lock is on it
        try:
            entry = mapping.claim(entry, settings)
        except mapping.Claimed:
            return "claimed_elsewhere", 1
        with telemetry.span(
            "messaging.relay", entry.traceparent, "consumer",
            conversationId=conversation_id, direction=direction.value, seq=entry.seq, entryKind=entry.kind,
        ) as span:  # fmt: skip
            if _uncertain(entry) and _already_delivered(entry, link, settings, clients.opencx):
                target, result, extra = "opencx", HttpResult(status=200), dict[str, Any]()
                log_event(logger, "relay.already_delivered", conversationId=conversation_id, seq=entry.seq)
            else:
                target, result, extra = _send(entry, link, settings, clients)
            outcome = _outcome(entry, result)
            span.set_attribute("outcome", outcome.value)
            span.set_attribute("status", result.status or 0)
        if outcome is Outcome.SUCCESS:
            count += int(extra.pop("_forwarded", 1)) if entry.kind != "end" else 0
            mapping.update_entry(
                entry, settings, state=EntryState.SENT, sentAt=_now(), attempts=entry.attempts + 1
            )
            mapping.record_progress(conversation_id, direction, count, settings, **extra)
            _log_sent(entry, link, result)
            if entry.kind == "end":
                mapping.mark_closed(
                    link, "rep" if direction is Direction.TO_CUSTOMER else "customer", settings
                )
            continue
        if outcome is Outcome.PERMANENT and direction is Direction.TO_REP and result.status == 404:
            # The Dynamics conversation is over (404/30013): a late "thanks" is not an incident.
            mapping.update_entry(entry, settings, state=EntryState.DEAD, lastStatus=404)
            mapping.mark_closed(link, "dynamics", settings)
            log_event(logger, "relay.conversation_gone", conversationId=conversation_id, seq=entry.seq)
            continue
        if outcome is Outcome.PERMANENT:
            _dead_letter(entry, link, settings, result, DeadLetterReason.PERMANENT_ERROR, target)
            continue
        attempts = entry.attempts + (0 if outcome is Outcome.THROTTLED else 1)
        too_old = _age_seconds(entry.received_at) > settings.max_age_seconds
        if too_old or attempts >= settings.max_attempts:
            reason = DeadLetterReason.TOO_OLD if too_old else DeadLetterReason.ATTEMPTS_EXHAUSTED
            _dead_letter(replace(entry, attempts=attempts), link, settings, result, reason, target)
            continue
        mapping.update_entry(
            entry, settings, state=EntryState.PENDING, attempts=attempts, lastStatus=result.status or 0
        )
        delay = retry_delay_seconds(attempts, result.retry_after)
        log_event(
            logger, "relay.retrying", logging.WARNING, conversationId=conversation_id,
            direction=direction.value, seq=entry.seq, status=result.status, delaySeconds=delay, target=target,
        )  # fmt: skip
        telemetry.count("relay.retried", target=target)
        return "retrying", delay
    return "drained", None


def _uncertain(entry: Entry) -> bool:
    """A rep message to the customer that was tried before (an answer lost, a crash mid-send):
    OpenCX's send has no idempotency key, so whether the customer has it must be looked up."""
    return (
        entry.direction is Direction.TO_CUSTOMER
        and entry.kind == "message"
        and (entry.attempts > 0 or entry.state is EntryState.SENDING)
    )


def _already_delivered(entry: Entry, link: mapping.Mapping, settings: Settings, opencx: OpenCXClient) -> bool:
    """True when the session's history already holds this agent message, sent after the bridge
    received it (a little clock skew allowed). Cannot tell (history unreadable): False, so the
    message is sent again: at least once, never lost."""
    since = _parse_time(entry.received_at)
    cursor: str | None = None
    for _ in range(settings.history_max_pages):
        page = opencx.get_history(link.session_id, cursor)
        if not page.ok:
            return False
        items = page.body.get("items")
        for item in items if isinstance(items, list) else []:
            event = item.get("event") if isinstance(item, dict) else None
            if not isinstance(event, dict):
                continue
            sender = str((event.get("sender") or {}).get("type") or "").lower()
            text = str((event.get("content") or {}).get("text") or "").strip()
            at = _parse_time(item.get("created_at"))
            recent = since is None or at is None or at.timestamp() >= since.timestamp() - CLOCK_SKEW_SECONDS
            if sender in ("human_agent", "agent") and text == (entry.text or "").strip() and recent:
                return True
        cursor = next_cursor(page.body)
        if not cursor:
            return False
    return False


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _outcome(entry: Entry, result: HttpResult) -> Outcome:
    if entry.kind == "end" and result.status == 404:
        return Outcome.SUCCESS  # already closed on the other side: the end is done
    return classify(result.status)


def _send(
    entry: Entry, link: mapping.Mapping, settings: Settings, clients: Clients
) -> tuple[str, HttpResult, dict[str, Any]]:
    if entry.direction is Direction.TO_CUSTOMER:
        return "opencx", _to_customer(entry, link, settings, clients.opencx), {}
    if clients.messaging is None:
        return "messaging", HttpResult(status=None, transport_error="no messaging client"), {}
    return ("messaging", *_to_rep(entry, link, settings, clients))


def _to_customer(entry: Entry, link: mapping.Mapping, settings: Settings, opencx: OpenCXClient) -> HttpResult:
    if entry.kind == "end":
        return opencx.update_session(link.session_id, {"status": "closed_resolved"})
    attachments = [
        {key: value for key, value in (("url", a.get("contentUrl") or a.get("contenturl")),
                                       ("name", a.get("name")),
                                       ("type", a.get("contentType") or a.get("contenttype"))) if value}
        for a in entry.attachments
    ]  # fmt: skip
    body = build_agent_message(
        entry.text, entry.sender_name, settings.opencx_agent_sender,
        attachments=[a for a in attachments if a],  # no rep_id: OpenCX's agent.id is a number, ours a GUID
    )  # fmt: skip
    return opencx.send_message(link.session_id, body)


def _to_rep(
    entry: Entry, link: mapping.Mapping, settings: Settings, clients: Clients
) -> tuple[HttpResult, dict[str, Any]]:
    messaging = clients.messaging
    assert messaging is not None
    channel = settings.messaging.channel_id
    if entry.kind == "end":
        ended = messaging.end_conversation(link.conversation_id)
        return ended if not ended.conversation_gone else HttpResult(status=404), {}
    if entry.text:
        activity = build_message_activity(
            link.conversation_id, channel, text=entry.text[:6000], sender_name=entry.sender_name,
            sender_id=link.session_id,
        )  # fmt: skip
        progress = {"lastForwardedAt": entry.event_at} if entry.event_at else {}
        return messaging.send_activity(link.conversation_id, activity), progress
    return _history_to_rep(link, settings, clients)


def _history_to_rep(
    link: mapping.Mapping, settings: Settings, clients: Clients
) -> tuple[HttpResult, dict[str, Any]]:
    """The event carried no text: forward the session's contact messages newer than the last one
    forwarded (by history id), each once; progress is recorded per message."""
    messaging = clients.messaging
    assert messaging is not None
    lines, cursor, failure = [], None, None
    for _ in range(settings.history_max_pages):
        page = clients.opencx.get_history(link.session_id, cursor)
        if not page.ok:
            failure = page
            break
        lines += transcript_lines(page.body)
        nxt = page.body.get("next")
        cursor = str(nxt.get("cursor") if isinstance(nxt, dict) else nxt or "") or None
        if not cursor:
            break
    if failure is not None:
        return failure, {}
    ids = [line.id for line in lines]
    if link.last_history_id and link.last_history_id in ids:
        lines = lines[ids.index(link.last_history_id) + 1 :]
    else:
        since = max(link.created_at or "", link.last_forwarded_at or "")
        lines = [line for line in lines if (line.at or "") > since]
    last, forwarded = link.last_history_id, 0
    for line in (line for line in lines if line.role == "customer"):
        activity = build_message_activity(
            link.conversation_id,
            settings.messaging.channel_id,
            text=line.text[:6000],
            sender_id=link.session_id,
        )
        sent = messaging.send_activity(link.conversation_id, activity)
        if not sent.ok:
            return sent, ({"lastHistoryId": last} if last else {})
        last, forwarded = line.id, forwarded + 1
        if last:
            count = link.to_rep + forwarded
            mapping.record_progress(
                link.conversation_id, Direction.TO_REP, count, settings, lastHistoryId=last
            )
    return HttpResult(status=200), {"_forwarded": forwarded, **({"lastHistoryId": last} if last else {})}


def _log_sent(entry: Entry, link: mapping.Mapping, result: HttpResult) -> None:
    latency = _age_seconds(entry.received_at) * 1000
    name = "relay.to_customer" if entry.direction is Direction.TO_CUSTOMER else "relay.to_rep"
    telemetry.count(name, kind=entry.kind)
    log_event(
        logger, name, conversationId=link.conversation_id, sessionId=link.session_id, handoffId=link.handoff_id,
        seq=entry.seq, kind=entry.kind, status=result.status, attempts=entry.attempts + 1,
        relayLatencyMs=round(latency),
    )  # fmt: skip


def _dead_letter(
    entry: Entry,
    link: mapping.Mapping | None,
    settings: Settings,
    result: HttpResult,
    reason: DeadLetterReason,
    target: str,
) -> None:
    """Park the entry for an operator; the replay tool re-drives it with a `resend` message."""
    upstream = "OpenCX" if target == "opencx" else "the Messaging API"
    action = (
        f"{upstream} refused or kept failing to take a relayed message (status {result.status or 'no answer'}"
        f"{', code ' + result.error_code if result.error_code else ''}). Fix the cause, then "
        f"`python -m devtools.replay redrive --queue {settings.messaging_queue} --session-id <id>`; "
        "a re-driven message reaches the other side after the ones sent meanwhile."
    )
    resend = RelayMessage(
        type="resend", conversationId=entry.conversation_id, direction=entry.direction, seq=entry.seq
    )
    record = DeadLetterRecord(
        reason=reason,
        action=action,
        handoffId=link.handoff_id if link else None,
        sessionId=link.session_id if link else None,
        target=target,
        lastStatus=result.status,
        errorCode=result.error_code,
        errorMessage=scrub_text(result.error_text)[:500] if result.error_text else None,
        attempts=max(1, entry.attempts),
        lastAttemptAt=datetime.now(UTC),
        message=resend.model_dump(mode="json", exclude_none=True),
    )
    send(queue_client(deadletter_queue(settings), QueueProfile.WORKER), record.model_dump_json(exclude_none=True),
         time_to_live=NEVER_EXPIRES)  # fmt: skip
    mapping.update_entry(
        entry, settings, state=EntryState.DEAD, attempts=entry.attempts, lastStatus=result.status or 0
    )
    telemetry.count("relay.dead_lettered", reason=reason.value, target=target)
    log_event(
        logger, "relay.dead_lettered", logging.ERROR, conversationId=entry.conversation_id,
        direction=entry.direction.value, seq=entry.seq, reason=reason.value, target=target, status=result.status,
    )  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _age_seconds(at: str | None) -> float:
    if not at:
        return 0.0
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(at)).total_seconds()
    except ValueError:
        return 0.0


def handle(message: RelayMessage, settings: Settings, clients: Clients) -> str:
    """The queue function's body for one message."""
    if message.type == "activity" and message.entry is not None:
        entry = entry_from_fields(message.conversationId, message.direction, message.entry)
        if mapping.append(entry, message.dedupKey or "", settings).duplicate:
            return "duplicate"
    if message.type == "resend" and message.seq is not None:
        found = mapping.get_entry(message.conversationId, message.direction, message.seq, settings)
        if found is not None and found.state is EntryState.DEAD:
            mapping.update_entry(found, settings, state=EntryState.PENDING, attempts=0)
    return drain(message.conversationId, message.direction, settings, clients, holder=message.holder)


def entry_from_fields(conversation_id: str, direction: Direction, fields: dict[str, Any]) -> Entry:
    import json

    attachments = fields.get("attachments")
    return Entry(
        conversation_id=conversation_id,
        direction=direction,
        seq=0,
        kind=str(fields.get("kind") or "message"),
        text=fields.get("text"),
        sender_name=fields.get("senderName"),
        sender_id=fields.get("senderId"),
        attachments=json.loads(attachments) if isinstance(attachments, str) else list(attachments or []),
        received_at=fields.get("receivedAt"),
        traceparent=fields.get("traceparent"),
        event_at=fields.get("eventAt"),
    )
