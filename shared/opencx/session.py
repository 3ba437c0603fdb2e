"""What the worker learns from the OpenCX API (contract section 4), in the shape that travels in the
queue message, so a Dataverse retry never asks OpenCX again.

Parsing is lenient: OpenCX may add fields or leave documented ones null. A phone that cannot be
normalised is kept as text and never blocks a handoff; an email that does not validate is dropped.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.media.refs import MediaRef
from shared.opencx.media import history_media
from shared.platform.normalise import NotNormalisable, normalise_email, normalise_phone
from shared.platform.text import is_blank

LIVE_CHAT_CHANNELS = frozenset({"sms", "whatsapp", "web"})
NAME_MAX = 200
LINE_TEXT_MAX = 4_000
# Only these history events are what someone said; the rest (handoff notes, system events) are not.
_MESSAGE_EVENT_TYPES = frozenset({"message"})
_ROLE = {"contact": "customer", "ai": "ai", "human_agent": "agent", "agent": "agent"}


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    phone: str | None = None
    phoneNormalised: bool = True
    email: str | None = None


class TranscriptLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    text: str  # empty for a file sent without words
    at: str | None = None
    id: str | None = None
    attachments: list[MediaRef] = Field(default_factory=list)

    @property
    def shown(self) -> str:
        """The words, then a marker where each file was ("[photo: meter.jpg]"): transcripts."""
        marks = [f"[{ref.kind_word}: {ref.name}]" for ref in self.attachments]
        return " ".join(part for part in (self.text, *marks) if part)


class Enrichment(BaseModel):
    """The session and its history as far as fetched. `historyComplete` False with a `nextCursor`
    means a retry goes on from that page instead of starting over."""

    model_config = ConfigDict(extra="ignore")

    channel: str
    customer: Customer = Field(default_factory=Customer)
    summary: str | None = None
    language: str | None = None
    sessionStatus: str | None = None
    transcript: list[TranscriptLine] = Field(default_factory=list)
    transcriptTruncated: bool = False
    historyComplete: bool = False
    nextCursor: str | None = None
    pagesRead: int = 0
    droppedEmail: bool = False

    @property
    def is_live_chat(self) -> bool:
        return self.channel in LIVE_CHAT_CHANNELS


def _text(value: Any, limit: int = NAME_MAX) -> str | None:
    if not isinstance(value, str) or is_blank(value):
        return None
    return value.strip()[:limit]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def customer_from(contact: dict[str, Any]) -> tuple[Customer, bool]:
    """The session's contact as a Customer, and whether an invalid email was dropped."""
    phone = _text(contact.get("phone_number"), 64)
    normalised = True
    if phone:
        try:
            phone = normalise_phone(phone)
        except NotNormalisable:
            normalised = False  # kept as the customer wrote it: a rep can still read it
    email = _text(contact.get("email"), 320)
    dropped = False
    if email:
        try:
            email = normalise_email(email)
        except NotNormalisable:
            email, dropped = None, True
    return Customer(
        name=_text(contact.get("name")), phone=phone, phoneNormalised=normalised, email=email
    ), dropped


def enrichment_from_session(session: dict[str, Any]) -> Enrichment:
    """`GET /chat/sessions/{id}`: channel.type, contact, handoff.summary, language, status."""
    channel = (_text(_dict(session.get("channel")).get("type"), 40) or "unknown").lower()
    customer, dropped = customer_from(_dict(session.get("contact")))
    return Enrichment(
        channel=channel,
        customer=customer,
        summary=_text(_dict(session.get("handoff")).get("summary"), 10_000),
        language=_text(session.get("language"), 35),
        sessionStatus=_text(session.get("status"), 40),
        droppedEmail=dropped,
    )


def transcript_lines(page: dict[str, Any]) -> list[TranscriptLine]:
    """The message events of one history page, oldest first, as transcript lines."""
    lines: list[TranscriptLine] = []
    items = page.get("items")
    for item in items if isinstance(items, list) else []:
        item = _dict(item)
        event = _dict(item.get("event"))
        if str(event.get("type") or "").lower() not in _MESSAGE_EVENT_TYPES:
            continue
        text = _text(_dict(event.get("content")).get("text"), LINE_TEXT_MAX)
        media = history_media(event)
        if not text and not media:
            continue
        sender = str(_dict(event.get("sender")).get("type") or "").lower()
        lines.append(
            TranscriptLine(
                role=_ROLE.get(sender, sender or "unknown"),
                text=text or "",
                at=_text(item.get("created_at"), 40),
                id=_text(item.get("id"), 128),
                attachments=media,
            )
        )
    return lines


def next_cursor(page: dict[str, Any]) -> str | None:
    """`next` ends the paging when null; some APIs nest it, so a {"cursor": ...} object is read too."""
    value = page.get("next")
    if isinstance(value, dict):
        value = value.get("cursor")
    return _text(value, 2_000)
