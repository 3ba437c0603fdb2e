"""Sending one outbox entry to the other side: the rep's words to OpenCX, the customer's to Dynamics.

Each function answers `Delivered`, `Restart` (the entry must wait behind entries just added before
it) or a `Failure`; the drain decides what a failure means for the entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from shared.media.fetch import FILE_TRIES
from shared.media.refs import MediaRef, RefusalReason
from shared.messaging import files, waiting
from shared.messaging.bodies import build_message_activity
from shared.messaging.deps import RelayDeps
from shared.messaging.links import Link
from shared.messaging.outbox import Direction, Entry, EntryKind, EntryState
from shared.messaging.reconcile import is_twin_of_recovered, reconcile
from shared.opencx.history import Position, read_history
from shared.opencx.send import build_agent_message
from shared.opencx.session import LINE_TEXT_MAX, TranscriptLine
from shared.platform.failure import Failure, FailureKind, Upstream
from shared.platform.log import get_logger, log_event
from shared.platform.times import instant, iso_at

logger = get_logger("relay")

CLOCK_SKEW_SECONDS = 2.0
SAME_MESSAGE_SECONDS = 120.0  # an event's time and its history item's time may differ a little


@dataclass(frozen=True)
class Delivered:
    forwarded: int = 1  # messages that reached the other side (a history read can forward several)
    message_id: str | None = None  # the Messaging API's id of what we sent
    forwarded_ids: tuple[str, ...] = ()  # the ids of each history message forwarded (text-less events)
    notes: dict[str, Any] = field(default_factory=dict)  # facts for the conversation's link row
    already: bool = False  # found already delivered (an uncertain send looked up)
    twin: bool = False  # a second copy of a message the customer has: marked sent, never sent
    files: int = 0  # files that crossed
    refused: tuple[RefusalReason, ...] = ()  # files that did not, each told as a text instead


@dataclass(frozen=True)
class Restart:
    """Entries were added ahead of this one (messages found lost before an end): send those first."""

    added: int


Result = Delivered | Restart | Failure


def deliver(deps: RelayDeps, entry: Entry, link: Link, *, tried_before: bool = False) -> Result:
    """`tried_before`: an earlier try may have reached the other side (its answer was lost)."""
    if entry.direction is Direction.TO_CUSTOMER:
        return _to_customer(deps, entry, link, tried_before)
    return _to_rep(deps, entry, link)


# ---------------------------------------------------------------------------- rep -> customer


def _to_customer(deps: RelayDeps, entry: Entry, link: Link, tried_before: bool) -> Result:
    if entry.kind is EntryKind.END:
        return _end_for_customer(deps, entry, link)
    if entry.kind is EntryKind.NOTICE:
        waiting.on_event(deps, entry.text or "", link)  # best effort: a notice never holds the line
        return Delivered(forwarded=0)
    if tried_before and _already_delivered(deps, entry, link):
        return Delivered(already=True)
    if is_twin_of_recovered(deps, entry, link):
        return Delivered(forwarded=0, already=True, twin=True)
    ready = files.for_customer(
        files.entry_refs(entry.attachments),
        deps.media,
        link.channel,
        deps.messaging.file_credential() if deps.messaging else None,
        patient=entry.attempts < FILE_TRIES,
    )
    if isinstance(ready, Failure):
        return ready
    text = ready.text_with_notices(entry.text)
    if not text and not ready.attachments:
        return Delivered(forwarded=0)  # nothing a customer could read (a card without a URL)
    body = build_agent_message(
        text, entry.sender_name, deps.settings.opencx_agent_sender, attachments=ready.attachments
    )  # no rep_id: OpenCX's agent.id is a number, ours a GUID
    answer = deps.opencx.send_message(link.session_id, body)
    if not answer.ok:
        return Failure.of(Upstream.OPENCX, answer)
    return Delivered(files=len(ready.attachments), refused=tuple(ready.refused))


def _end_for_customer(deps: RelayDeps, entry: Entry, link: Link) -> Result:
    """Before the OpenCX session is closed, the conversation's messages are read once more: a rep
    message the webhook never delivered reaches the customer first (docs/messaging.md)."""
    checked = reconcile(deps, link, settle_seconds=0.0, before=entry)
    notes: dict[str, Any] = {}
    if checked.added:
        return Restart(checked.added)
    if checked.gone:
        notes["endReconcile"] = "conversation_gone"  # closed anyway: nothing more can be read
    elif checked.failure is not None:
        notes["endReconcile"] = checked.failure.describe()
    else:
        notes["endReconcile"] = "checked"
    answer = deps.opencx.update_session(link.session_id, {"status": "closed_resolved"})
    if answer.ok or answer.status == 404:  # already gone on OpenCX's side: the end is done
        return Delivered(forwarded=0, notes=notes)
    return Failure.of(Upstream.OPENCX, answer)


def _already_delivered(deps: RelayDeps, entry: Entry, link: Link) -> bool:
    """True when the session's history holds more agent messages with this text, written since the
    bridge received this one, than other entries with the same text sent since (a rep may say "ok"
    twice: each "ok" in the history is one entry's). Cannot tell (history unreadable): False, so it
    is sent again: at least once, never lost."""
    since = instant(entry.received_at)
    if since is None:
        return False
    after = Position(iso_at(since - CLOCK_SKEW_SECONDS))
    read = read_history(deps.opencx, link.session_id, max_pages=deps.settings.history_max_pages, after=after)
    if read.failure is not None:
        return False
    wanted = (entry.text or "").strip()
    in_history = sum(1 for line in read.lines if line.role == "agent" and _same_words(line, wanted, entry))
    others = sum(
        1
        for other in deps.outbox.entries(link.conversation_id, Direction.TO_CUSTOMER, (EntryState.SENT,))
        if other.seq != entry.seq
        and (other.text or "").strip() == wanted
        and (other.claimed_at or 0) >= since - CLOCK_SKEW_SECONDS
    )
    return in_history > others


def _same_words(line: TranscriptLine, wanted: str, entry: Entry) -> bool:
    """Whether a history line is this entry's message: its words, and, for an entry with files,
    its words followed by the texts standing in for files that did not cross."""
    said = line.text.strip()
    if not entry.attachments:
        return said == wanted
    has_files = bool(line.attachments) or "not forwarded:" in said
    return has_files and (
        said == wanted or said.startswith(wanted + "\n[") or (not wanted and said.startswith("["))
    )


# ---------------------------------------------------------------------------- customer -> rep


def _to_rep(deps: RelayDeps, entry: Entry, link: Link) -> Result:
    messaging = deps.messaging
    if messaging is None:
        return Failure(Upstream.MESSAGING, FailureKind.UNREACHABLE, message="mode messaging is off")
    if entry.kind is EntryKind.END:
        ended = messaging.end_conversation(link.conversation_id)
        return (
            Delivered(forwarded=0)
            if ended.ok or ended.conversation_gone
            else Failure.of(Upstream.MESSAGING, ended)
        )
    if entry.text or entry.attachments:
        refs = files.entry_refs(entry.attachments) or _files_beside(deps, entry, link)
        if isinstance(refs, Failure):
            return refs  # the history could not be read: the words wait (FILE_TRIES) for their files
        sent = _send_to_rep(deps, link, entry, entry.text, refs, entry.sender_name)
        if isinstance(sent, Failure):
            return sent
        notes = {"lastForwardedAt": entry.event_at} if entry.event_at else {}
        return replace(sent, notes=notes)
    return _history_to_rep(deps, entry, link)


def _files_beside(deps: RelayDeps, entry: Entry, link: Link) -> list[MediaRef] | Failure:
    """The files the customer sent with these words. The event carries only the words (its fields
    are undocumented); the history shows files beside them (shared/opencx/media.py). So the line
    with these words nearest the event's time, and not already taken by another entry, is looked
    up, and its files go with the words as one message. The line is noted on the entry BEFORE the
    send, so the history path never sends them again. History unreadable: a Failure, so the words
    wait for their files FILE_TRIES times; after that they go alone and the log says the files could
    not be checked (the words never wait on OpenCX for long)."""
    at = instant(entry.event_at) or instant(entry.received_at)
    if at is None or not entry.text:
        return []
    after = Position(iso_at(at - SAME_MESSAGE_SECONDS))
    read = read_history(deps.opencx, link.session_id, max_pages=deps.settings.history_max_pages, after=after)
    wanted = entry.text.strip()[:LINE_TEXT_MAX]
    taken = _lines_with_files_sent(_sent_to_rep(deps, link))
    lines = [line for line in read.lines if line.role == "customer" and line.text.strip() == wanted
             and line.attachments and (line.id or line.at) not in taken
             and abs((instant(line.at) or at) - at) <= SAME_MESSAGE_SECONDS]  # fmt: skip
    if read.failure is not None and not lines:
        if entry.attempts + 1 < FILE_TRIES:
            return Failure.of(Upstream.OPENCX, read.failure)
        log_event(logger, "relay.files_unchecked", logging.WARNING, conversationId=link.conversation_id,
                  seq=entry.seq, status=read.failure.status or 0)  # fmt: skip
    if not lines:
        return []
    line = min(lines, key=lambda line: abs((instant(line.at) or at) - at))
    deps.outbox.update(entry, filesLine=line.id or line.at or "")
    return list(line.attachments)


def _history_to_rep(deps: RelayDeps, entry: Entry, link: Link) -> Result:
    """The event carried no text: forward the session's customer messages after the last one
    forwarded, oldest first, each once. Progress is recorded after each send, so a failure part
    way resends nothing already sent and marks nothing that was not."""
    messaging = deps.messaging
    assert messaging is not None
    start = link.last_forwarded_at or link.created_at
    after = Position(start, link.last_history_id if link.last_forwarded_at else None) if start else None
    read = read_history(deps.opencx, link.session_id, max_pages=deps.settings.history_max_pages, after=after)
    earlier = _sent_to_rep(deps, link)  # one read of the outbox serves both questions
    sent_before = _forwarded_texts(earlier)
    files_sent_with_words = _lines_with_files_sent(earlier)
    forwarded: list[str] = []
    files_sent, refused = 0, tuple[RefusalReason, ...]()
    for line in (line for line in read.lines if line.role == "customer"):
        said_before = _already_forwarded(line.text, instant(line.at), sent_before)
        if said_before and (not line.attachments or (line.id or line.at) in files_sent_with_words):
            continue
        # Words the event already carried are not said twice; the files beside them still go.
        sent = _send_to_rep(deps, link, entry, None if said_before else line.text, line.attachments, None)
        if isinstance(sent, Failure):
            return sent
        files_sent, refused = files_sent + sent.files, refused + sent.refused
        if sent.forwarded:
            forwarded.append(sent.message_id or "")
        deps.links.note(link.conversation_id, lastForwardedAt=line.at, lastHistoryId=line.id)
        # The ids so far, so the reconciliation knows these words as the customer's even if a
        # later send of this entry fails (written before the next send).
        deps.outbox.update(entry, forwardedIds=",".join(i for i in forwarded if i))
    if read.failure is not None:
        return Failure.of(Upstream.OPENCX, read.failure)
    return Delivered(forwarded=len(forwarded), forwarded_ids=tuple(i for i in forwarded if i), files=files_sent,
                     refused=refused)  # fmt: skip


def _send_to_rep(
    deps: RelayDeps, link: Link, entry: Entry, text: str | None, refs: list[MediaRef], sender_name: str | None
) -> Delivered | Failure:
    """One message to the rep: the words, the files that may cross, a text for each that may not."""
    messaging = deps.messaging
    assert messaging is not None
    ready = files.for_rep(
        refs, deps.media, deps.opencx.file_credential(), patient=entry.attempts < FILE_TRIES
    )
    if isinstance(ready, Failure):
        return ready
    words = ready.text_with_notices(text)
    if not words and not ready.attachments:
        return Delivered(forwarded=0)
    activity = build_message_activity(
        link.conversation_id, messaging.channel_id, text=words,
        sender_name=sender_name, sender_id=link.session_id, attachments=ready.attachments,
    )  # fmt: skip
    sent = messaging.send_activity(link.conversation_id, activity)
    if not sent.ok:
        return Failure.of(Upstream.MESSAGING, sent, gone=sent.conversation_gone)
    return Delivered(message_id=sent.message_id, files=len(ready.attachments), refused=tuple(ready.refused))


def _sent_to_rep(deps: RelayDeps, link: Link) -> list[Entry]:
    return deps.outbox.entries(link.conversation_id, Direction.TO_REP, (EntryState.SENT, EntryState.SENDING))


def _forwarded_texts(sent: list[Entry]) -> list[tuple[str, float]]:
    """Customer texts already sent to the rep, with when OpenCX said they were written."""
    return [(e.text.strip(), instant(e.event_at) or instant(e.received_at) or 0.0) for e in sent if e.text]


def _lines_with_files_sent(sent: list[Entry]) -> set[str]:
    """History lines whose files went with their words (`_files_beside`)."""
    return {entry.files_line for entry in sent if entry.files_line}


def _already_forwarded(text: str, at: float | None, sent: list[tuple[str, float]]) -> bool:
    """A history line that is a message the event carried as text (forwarded then, not again)."""
    wanted = text.strip()
    return any(
        words == wanted and (at is None or abs(at - when) <= SAME_MESSAGE_SECONDS) for words, when in sent
    )
