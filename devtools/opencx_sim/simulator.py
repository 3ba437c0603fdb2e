"""OpenCXSimulator: the Python API tests, the demo and benchmarks use to run, seed, fault and inspect it."""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from devtools.opencx_sim import contract, events
from devtools.opencx_sim.contract import ApiError, history_item, now_iso
from devtools.opencx_sim.server import FaultRule, SimHandler, admin_route
from devtools.opencx_sim.store import RateLimiter, Store, retry_after_text
from devtools.simkit.files import FileHost
from devtools.simkit.lifecycle import Simulator
from devtools.simkit.server import LoopbackServer, Reply, json_reply

DEFAULT_SCOPES = (contract.SCOPE_READ, contract.SCOPE_WRITE)
DEFAULT_KEY_NAME = "default"
Files = Iterable[tuple[str, str, bytes]]  # (name, MIME type, content)


@dataclass(frozen=True)
class ApiKey:
    """A key's name (what records show; never the key itself) and its scopes (None: full access, AUTH)."""

    name: str
    scopes: frozenset[str] | None


class RequestRecord(NamedTuple):
    """One API call as the simulator saw it. `status` 0 is a connection dropped before handling; for
    "drop_after_commit" it is the status that was committed but never sent. `key` is the key's name."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    operation: str
    session_id: str | None
    key: str | None
    duration_ms: float
    fault: str | None
    headers: dict[str, str]


@dataclass(frozen=True)
class SentMessage:
    """A message accepted by `POST /chat/sessions/{id}/send`, in the order they were accepted."""

    session_id: str
    message_id: str
    sender: str
    text: str | None
    agent: dict[str, Any] | None
    key: str
    at: str
    body: dict[str, Any]
    attachments: tuple[dict[str, Any], ...] = ()  # {name, mime_type, size (decoded base64) or url}

    @property
    def agent_name(self) -> str | None:
        return (self.agent or {}).get("name")


@dataclass(frozen=True)
class SessionUpdate:
    """A body accepted by `PATCH /chat/sessions/{id}`."""

    session_id: str
    body: dict[str, Any]
    key: str
    at: str


class OpenCXSimulator(Simulator[RequestRecord, FaultRule]):
    """A loopback OpenCX API (chat sessions: get, history, send, update) in a daemon thread."""

    thread_name = "opencx-sim"
    record_type = RequestRecord
    files: FileHost
    admin = admin_route  # `/_sim/<name>`; ValueError/TypeError become 400, KeyError 404 in the handler

    def __init__(
        self,
        api_key: str | None = None,
        *,
        scopes: Iterable[str] | None = DEFAULT_SCOPES,
        port: int | None = None,
        page_size: int = 50,
        rate_limit: int | None = 100,
        rate_window: float = 60.0,
        latency: float = 0.0,
        accepted_senders: Iterable[str] = contract.DEFAULT_SENDERS,
        seed: int = 0,
        history_order: str = "oldest_first",
    ) -> None:
        super().__init__(port=port, seed=seed)
        self.page_size = page_size
        self.history_order = history_order  # undocumented; the real sample is oldest first
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.latency = latency
        self.accepted_senders = frozenset(accepted_senders)
        self.api_key = api_key or f"ocx_test_{secrets.token_urlsafe(24)}"
        self._keys: dict[str, ApiKey] = {}
        self.add_key(self.api_key, scopes, name=DEFAULT_KEY_NAME)
        self._store = Store()
        self._limiter = RateLimiter()
        self.clock: Callable[[], float] = time.monotonic  # the rate limiter's; tests set their own
        self._sent: list[SentMessage] = []
        self._updates: list[SessionUpdate] = []
        # Media in history are served here; the URLs need an API key unless `open_files` (undocumented).
        self.open_files = False
        self.files = FileHost(lambda: self.url, lambda authorization: bool(self.authenticate(authorization)))

    def make_server(self, address: tuple[str, int]) -> LoopbackServer:
        return LoopbackServer(address, self, SimHandler)

    def env(self) -> dict[str, str]:
        """Settings that point the bridge at this simulator (docs/contract.md section 7)."""
        return {"OPENCX_API_URL": self.url, "OPENCX_API_KEY": self.api_key}

    def add_key(
        self, key: str | None = None, scopes: Iterable[str] | None = None, name: str | None = None
    ) -> str:
        """Register a key; `scopes=None` is a full-access key (AUTH). Returns the key."""
        key = key or f"ocx_test_{secrets.token_urlsafe(24)}"
        with self.lock:
            label = name or f"key{len(self._keys) + 1}"
            self._keys[key] = ApiKey(label, frozenset(scopes) if scopes is not None else None)
        return key

    def remove_key(self, key: str) -> None:
        """Revoke a key: from now on it gets 401, as a key deleted in the dashboard would."""
        with self.lock:
            self._keys.pop(key, None)

    def add_session(
        self,
        session_id: str | None = None,
        *,
        history: Iterable[dict[str, Any]] = (),
        reason: str | None = None,
        contact_reason: str | None = None,
        **fields: Any,
    ) -> str:
        """Add (or replace) a session and its history (items from `history_item()`); returns its id.
        `fields` are contract.new_session's (channel, contact's name, email, phone_number, summary...)."""
        session_id = session_id or str(uuid.uuid4())
        fields["ticket_number"] = fields.get("ticket_number") or 18000 + self._store.count()
        session = contract.new_session(session_id, **fields)
        return self.put_session(session, list(history), reason=reason, contact_reason=contact_reason)

    def put_session(
        self,
        session: dict[str, Any],
        history: list[dict[str, Any]],
        *,
        reason: str | None = None,
        contact_reason: str | None = None,
    ) -> str:
        """Add a session object exactly as given (e.g. a real sample, or one missing fields on purpose)."""
        meta = {k: v for k, v in {"reason": reason, "contact_reason": contact_reason}.items() if v}
        self._store.put(session, history, meta)
        return str(session["id"])

    def add_message(
        self,
        session_id: str,
        text: str,
        *,
        sender_type: str = "contact",
        name: str | None = None,
        event_type: str = "message",
        attachments: list[dict[str, Any]] | None = None,
        files: Files = (),
    ) -> dict[str, Any]:
        """Append one event to a session's history (KeyError for an unknown session); returns the item.
        `attachments` are media as history shows them, `{name, size, type, url}` (an `id` is added when
        missing), e.g. a photo the customer sent before the handoff; `files` are hosted here."""
        self._require(session_id)
        media = [contract.seeded_attachment(a) for a in attachments or []] + self.host_files(files)
        item = history_item(
            text, sender_type=sender_type, name=name, event_type=event_type, attachments=media
        )
        self._store.append(session_id, item)
        return item

    def host_files(self, files: Files, **behaviour: Any) -> list[dict[str, Any]]:
        """History attachments `{id, name, size, type, url}` for files served by `sim.files` (an API key
        needed unless `sim.open_files`; `behaviour`: the file host's)."""
        behaviour.setdefault("needs_token", not self.open_files)
        return [
            contract.history_attachment(name, self.files.put(data, kind, name, **behaviour), kind, len(data))
            for name, kind, data in files
        ]

    def session(self, session_id: str) -> dict[str, Any] | None:
        return self._store.session(session_id)

    def history(self, session_id: str) -> list[dict[str, Any]]:
        return self._store.history(session_id)

    @property
    def session_ids(self) -> list[str]:
        return self._store.ids()

    @property
    def sent_messages(self) -> list[SentMessage]:
        with self.lock:
            return list(self._sent)

    def sent_to(self, session_id: str) -> list[SentMessage]:
        return [message for message in self.sent_messages if message.session_id == session_id]

    @property
    def updates(self) -> list[SessionUpdate]:
        with self.lock:
            return list(self._updates)

    def stats(self) -> dict[str, Any]:
        """simkit's counts, and per key name, sent messages, updates and rate-limited calls."""
        records = self.requests
        with self.lock:
            mine = {"sent_messages": len(self._sent), "updates": len(self._updates)}
        return {
            **super().stats(),
            **mine,
            "rate_limited": sum(1 for r in records if r.status == 429 and r.fault is None),  # the limiter's
            "sessions": self._store.count(),
            "keys": dict(sorted(Counter(r.key or "(none)" for r in records).items())),
        }

    def handoff_event(self, session_id: str, **options: Any) -> dict[str, Any]:
        """The `conversation.handoff_to_human` envelope for a session (see events.handoff_event)."""
        session = self._require(session_id)
        handoff_at, count = self._store.handoff_facts(session_id)
        options.setdefault("timestamp", handoff_at)
        return events.handoff_event(session, self._store.meta(session_id), count, **options)

    def customer_reply(self, session_id: str, text: str, files: Files = (), **options: Any) -> dict[str, Any]:
        """The customer writes (or sends photos: `files`, `text` the caption): append a contact message,
        and return the `conversation.contact_response` OpenCX would POST to the bridge. That event
        documents no attachments, so it carries none; with files and no caption, no `message` either."""
        session = self._require(session_id)
        media = self.host_files(files)
        name = (session.get("contact") or {}).get("name")
        item = history_item(text, sender_type="contact", name=name, attachments=media)
        self._store.append(session_id, item, live=True)
        if media and not text:
            options["include_text"] = False
        return events.contact_response_event(session, text, item["created_at"], **options)

    def close_session(
        self, session_id: str, status: str = "closed_resolved", **options: Any
    ) -> dict[str, Any]:
        """The session closes on OpenCX's side: set its status, return the `conversation.closed` envelope."""
        if status not in ("closed_resolved", "closed_unresolved"):
            raise ValueError("status must be closed_resolved or closed_unresolved")
        self._require(session_id)
        at = now_iso()
        session = self._store.update(session_id, {"status": status, "updated_at": at})
        count = len(self._store.history(session_id))
        return events.closed_event(session, self._store.meta(session_id), count, at, **options)

    def _require(self, session_id: str, error: Exception | None = None) -> dict[str, Any]:
        """The session, or `error` (default: KeyError) when there is none."""
        session = self._store.session(session_id)
        if session is None:
            raise error or KeyError(session_id)
        return session

    def reset(self) -> None:
        """Empty sessions, faults, records, sent messages and rate windows. Keys and settings stay."""
        self._store.clear()
        self._limiter.clear()
        with self.lock:
            self.reset_records()
            self._sent.clear()
            self._updates.clear()
            self.files.clear()

    def reset_rate_limits(self) -> None:
        """Forget every key's recent requests, so the next test starts with a full budget."""
        self._limiter.clear()

    def authenticate(self, authorization: str | None) -> ApiKey | None:
        """AUTH: "All API requests require a Bearer token"; None is 401 "Missing or invalid API key"."""
        scheme, _, token = (authorization or "").partition(" ")
        with self.lock:
            keys = list(self._keys.items())
        for known, info in keys:
            if scheme.lower() == "bearer" and hmac.compare_digest(known.encode(), token.strip().encode()):
                return info
        return None

    def throttle(self, key: ApiKey) -> dict[str, str]:
        """The per-key limit (see store.py); returns the informational headers for a success."""
        if self.rate_limit is None:
            return {}
        wait, remaining = self._limiter.take(key.name, self.rate_limit, self.rate_window, self.clock())
        headers = {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(remaining)}
        if wait is not None:
            retry_after = {"Retry-After": retry_after_text(wait, self.rate_window)}
            raise ApiError(429, "ThrottlerException: Too Many Requests", headers | retry_after)
        return headers

    def authorize(self, key: ApiKey, operation: str) -> None:
        """AUTH: "403 Forbidden: Key is valid but doesn't have access to this resource"."""
        needed = contract.OPERATION_SCOPES.get(operation)
        if needed is not None and key.scopes is not None and needed not in key.scopes:
            raise ApiError(403, f"Forbidden resource: this API key lacks the {needed} scope")

    def operate(
        self,
        operation: str,
        session_id: str | None,
        query: dict[str, str],
        body: bytes,
        key: ApiKey,
        content_type: str,
    ) -> Reply:
        """The operation itself, after auth, limit and scope. ApiError becomes the documented error."""
        if operation == "other" or session_id is None:
            raise ApiError(404, "Route not found")
        if operation == "get_session":
            return json_reply(200, self._require_api(session_id))
        if operation == "list_history":
            return self._list_history(session_id, query)
        if operation == "send":
            return self._send(session_id, contract.parse_json_object(body, content_type), key)
        return self._update(session_id, contract.parse_json_object(body, content_type) if body else {}, key)

    def _require_api(self, session_id: str) -> dict[str, Any]:
        # GET documents only the 200 answer; the shape is AUTH's error shape, the text is chosen.
        return self._require(session_id, ApiError(404, "Chat session not found"))

    @property
    def history_order(self) -> str:
        return self._history_order

    @history_order.setter
    def history_order(self, order: str) -> None:
        if order not in contract.HISTORY_ORDERS:
            raise ValueError(f"history_order must be one of {list(contract.HISTORY_ORDERS)}")
        self._history_order = order

    def _list_history(self, session_id: str, query: dict[str, str]) -> Reply:
        """HISTORY: `{"items": [...], "next": <cursor> | null}`. The order of pages is undocumented:
        oldest first by default (as the real sample), `history_order="newest_first"` the other way."""
        self._require_api(session_id)
        order, cursor = self.history_order, query.get("cursor")
        start = contract.decode_cursor(session_id, cursor, order) if cursor else None
        items, after = self._store.page(
            session_id, start, max(1, int(self.page_size)), order == "newest_first"
        )
        next_cursor = contract.encode_cursor(session_id, after, order) if after is not None else None
        return json_reply(200, {"items": items, "next": next_cursor})

    def _send(self, session_id: str, data: dict[str, Any], key: ApiKey) -> Reply:
        """SEND: validate, append the message to the history as the sender, answer 201 with its id."""
        contract.validate_send(data, self.accepted_senders)
        session = self._require_api(session_id)
        message, sender, agent = data["message"], data["sender"], data.get("agent")
        contact = data.get("contact") or {}
        sent_media = contract.check_channel_media(message.get("attachments") or [], session)
        if sender == "contact":
            sender_type, name = "contact", contact.get("name") or (session.get("contact") or {}).get("name")
        else:
            sender_type, name = "human_agent", (agent or {}).get("name")
        media = [self._history_attachment(a) for a in sent_media]
        item = history_item(message.get("text") or "", sender_type=sender_type, name=name, attachments=media)
        self._store.update(session_id, {}, data.get("custom_data"), contact.get("custom_data"))
        shown = tuple({k: v for k, v in a.items() if k != "data" and v is not None} for a in sent_media)
        at = item["created_at"]
        sent = SentMessage(
            session_id, item["id"], sender, message.get("text"), agent, key.name, at, data, shown
        )
        with self.lock:  # history order and the sent list agree, even under concurrent sends
            self._store.append(session_id, item, live=True)
            self._sent.append(sent)
        return json_reply(201, contract.send_answer(item["id"]))

    def _update(self, session_id: str, data: dict[str, Any], key: ApiKey) -> Reply:
        """UPDATE: set the status; "This response has no body data" (status code undocumented: 200)."""
        contract.validate_update(data)
        self._require_api(session_id)
        at = now_iso()
        self._store.update(session_id, {"updated_at": at, **{k: v for k, v in data.items() if k == "status"}})
        with self.lock:
            self._updates.append(SessionUpdate(session_id, data, key.name, at))
        return Reply(200, b"", content_type=None)

    def _history_attachment(self, sent: dict[str, Any]) -> dict[str, Any]:
        """SEND takes {name, url, base64, mime_type}; HISTORY shows {id, name, size, type, url}. Chosen:
        a URL is kept as given; base64 content alone is hosted here like any medium, shown by URL."""
        data: bytes | None = sent.get("data")
        if data is None or sent["url"]:
            return contract.history_attachment(sent["name"], sent["url"], sent["mime_type"], sent.get("size"))
        return self.host_files([(sent["name"], sent["mime_type"], data)])[0]
