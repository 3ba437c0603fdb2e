"""OpenCXSimulator: the Python API tests, the demo and benchmarks use to run, seed, fault and inspect it."""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from devtools.opencx_sim import contract, events
from devtools.opencx_sim.admin import admin_route
from devtools.opencx_sim.contract import (
    DEFAULT_SENDERS,
    OPERATION_SCOPES,
    SCOPE_READ,
    SCOPE_WRITE,
    ApiError,
    history_item,
    now_iso,
)
from devtools.opencx_sim.faults import FaultRule, pick_fault
from devtools.opencx_sim.ratelimit import RateLimiter, retry_after_text
from devtools.opencx_sim.server import Reply, SimServer, json_reply
from devtools.opencx_sim.store import Store
from devtools.simkit.files import FileHost
from devtools.simkit.lifecycle import Simulator, elapsed_ms, per_operation, redact

if TYPE_CHECKING:
    from devtools.opencx_sim.server import SimHandler

_REDACTED_HEADERS = frozenset({"authorization"})
DEFAULT_SCOPES = (SCOPE_READ, SCOPE_WRITE)
DEFAULT_KEY_NAME = "default"


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
    files: FileHost

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
        accepted_senders: Iterable[str] = DEFAULT_SENDERS,
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
        self._sent: list[SentMessage] = []
        self._updates: list[SessionUpdate] = []
        self._rate_limited = 0
        # Media in history are served here; the URLs need an API key unless `open_files` (undocumented).
        self.open_files = False
        self.files = FileHost(lambda: self.url, self._key_valid)

    # ------------------------------------------------------------------ lifecycle

    def make_server(self, address: tuple[str, int]) -> SimServer:
        return SimServer(address, self)

    def env(self) -> dict[str, str]:
        """Settings that point the bridge at this simulator (docs/contract.md section 7)."""
        return {"OPENCX_API_URL": self.url, "OPENCX_API_KEY": self.api_key}

    # ------------------------------------------------------------------ keys

    def add_key(
        self, key: str | None = None, scopes: Iterable[str] | None = None, name: str | None = None
    ) -> str:
        """Register a key; `scopes=None` is a full-access key (AUTH). Returns the key."""
        key = key or f"ocx_test_{secrets.token_urlsafe(24)}"
        with self.lock:
            label = name or f"key{len(self._keys) + 1}"
            self._keys[key] = ApiKey(label, frozenset(scopes) if scopes is not None else None)
        return key

    def _key_valid(self, authorization: str | None) -> bool:
        try:
            self.authenticate(authorization)
        except ApiError:
            return False
        return True

    def host_files(self, files: Iterable[tuple[str, str, bytes]], **behaviour: Any) -> list[dict[str, Any]]:
        """History attachments `{id, name, size, type, url}` for (name, type, bytes), each served by
        `sim.files` (an API key needed unless `sim.open_files`; `behaviour`: the file host's)."""
        behaviour.setdefault("needs_token", not self.open_files)
        return [
            contract.history_attachment(name, self.files.put(data, kind, name, **behaviour), kind, len(data))
            for name, kind, data in files
        ]

    def remove_key(self, key: str) -> None:
        """Revoke a key: from now on it gets 401, as a key deleted in the dashboard would."""
        with self.lock:
            self._keys.pop(key, None)

    # ------------------------------------------------------------------ seeding and inspection

    def add_session(
        self,
        session_id: str | None = None,
        *,
        channel: str = "sms",
        name: str | None = None,
        email: str | None = None,
        phone_number: str | None = None,
        contact_id: str | None = None,
        summary: str | None = "Customer asked for a human agent.",
        sentiment: str | None = "neutral",
        language: str | None = "en",
        status: str = "open",
        history: Iterable[dict[str, Any]] = (),
        reason: str | None = None,
        contact_reason: str | None = None,
        created_at: str | None = None,
        updated_at: str | None = None,
        ticket_number: int | None = None,
    ) -> str:
        """Add (or replace) a session and its history; returns its id. `summary=None` is a session that
        was never handed off (`handoff` null). History items are built with `history_item()`."""
        session_id = session_id or str(uuid.uuid4())
        contact = {
            "id": contact_id or f"c_{secrets.token_hex(3)}",
            "name": name,
            "email": email,
            "phone_number": phone_number,
        }
        session = contract.new_session(
            session_id,
            channel=channel,
            contact=contact,
            status=status,
            summary=summary,
            sentiment=sentiment,
            language=language,
            ticket_number=ticket_number or 18000 + self._store.count(),
            created_at=created_at,
            updated_at=updated_at,
        )
        self.put_session(session, list(history), reason=reason, contact_reason=contact_reason)
        return session_id

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
        files: Iterable[tuple[str, str, bytes]] = (),
    ) -> dict[str, Any]:
        """Append one event to a session's history (KeyError for an unknown session); returns the item.
        `attachments` are media as history shows them, `{name, size, type, url}` (an `id` is added
        when missing), e.g. a photo the customer sent before the handoff; `files` are (name, type,
        bytes) hosted here (see host_files)."""
        if not self._store.has(session_id):
            raise KeyError(session_id)
        media = [_seeded_attachment(a) for a in attachments or []] + self.host_files(files)
        item = history_item(
            text, sender_type=sender_type, name=name, event_type=event_type, attachments=media
        )
        self._store.append(session_id, item, item["created_at"])
        return item

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

    def count(self, operation: str | None = None, key: str | None = None, status: int | None = None) -> int:
        """Recorded API calls matching every filter given (`key` is a key's name)."""
        return sum(
            1
            for r in self.requests
            if (operation is None or r.operation == operation)
            and (key is None or r.key == key)
            and (status is None or r.status == status)
        )

    def stats(self) -> dict[str, Any]:
        """Counts per operation and status (status "0" is a dropped connection) and per key name."""
        with self.lock:
            records = list(self._records)
            stats: dict[str, Any] = {
                "faults_fired": self.faults_fired(),
                "rate_limited": self._rate_limited,
                "sent_messages": len(self._sent),
                "updates": len(self._updates),
            }
        per_key = Counter(record.key or "(none)" for record in records)
        stats["requests"] = len(records)
        stats["sessions"] = self._store.count()
        stats["operations"] = per_operation(records)
        stats["keys"] = dict(sorted(per_key.items()))
        return stats

    # ------------------------------------------------------------------ webhook envelopes

    def handoff_event(self, session_id: str, **options: Any) -> dict[str, Any]:
        """The `conversation.handoff_to_human` envelope for a session (see events.handoff_event)."""
        session = self._require(session_id)
        handoff_at, count = self._store.handoff_facts(session_id)
        options.setdefault("timestamp", handoff_at)
        return events.handoff_event(session, self._store.meta(session_id), count, **options)

    def customer_reply(
        self, session_id: str, text: str, files: Iterable[tuple[str, str, bytes]] = (), **options: Any
    ) -> dict[str, Any]:
        """The customer writes (or sends a photo: `files` as (name, type, bytes), `text` its caption):
        append a contact message to the history, its media in `event.attachments`, and return the
        matching `conversation.contact_response` envelope (what OpenCX would POST to the bridge). The
        event documents no attachments, so it carries none; with files and no caption it carries no
        `message` either."""
        session = self._require(session_id)
        name = (session.get("contact") or {}).get("name")
        media = self.host_files(files)
        item = history_item(text, sender_type="contact", name=name, attachments=media)
        self._store.append(session_id, item, item["created_at"], live=True)
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

    def _require(self, session_id: str) -> dict[str, Any]:
        session = self._store.session(session_id)
        if session is None:
            raise KeyError(session_id)
        return session

    # ------------------------------------------------------------------ faults, reset, idleness

    def reset(self) -> None:
        """Empty sessions, faults, records, sent messages and rate windows. Keys and settings stay."""
        self._store.clear()
        self._limiter.clear()
        with self.lock:
            self.reset_records()
            self._sent.clear()
            self._updates.clear()
            self._rate_limited = 0
        self.files.clear()

    def reset_rate_limits(self) -> None:
        """Forget every key's recent requests, so the next test starts with a full budget."""
        self._limiter.clear()

    # ------------------------------------------------------------------ called by the handler

    def choose_fault(self, operation: str, session_id: str | None = None) -> FaultRule | None:
        with self.lock:
            return pick_fault(self._faults, operation, session_id, self._rng)

    def record(
        self,
        handler: SimHandler,
        path: str,
        query: dict[str, str],
        status: int,
        operation: str,
        session_id: str | None,
        started: float,
        fault: str | None,
    ) -> None:
        headers = redact(handler.headers, _REDACTED_HEADERS)
        key = getattr(handler, "key_name", None)
        record = RequestRecord(
            handler.command,
            path,
            query,
            status,
            operation,
            session_id,
            key,
            elapsed_ms(started),
            fault,
            headers,
        )
        self.add_record(record)

    def authenticate(self, authorization: str | None) -> ApiKey:
        """AUTH: "All API requests require a Bearer token"; 401 "Missing or invalid API key"."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Unauthorized")
        with self.lock:
            keys = list(self._keys.items())
        for known, info in keys:
            if hmac.compare_digest(known.encode(), token.encode()):
                return info
        raise ApiError(401, "Unauthorized")

    def throttle(self, key: ApiKey) -> dict[str, str]:
        """The per-key limit (see ratelimit.py); returns the informational headers for a success."""
        now = time.monotonic()
        limit, window = self.rate_limit, self.rate_window
        wait = self._limiter.take(key.name, limit, window, now)
        if limit is None:
            return {}
        headers = {"X-RateLimit-Limit": str(limit)}
        if wait is not None:
            with self.lock:
                self._rate_limited += 1
            headers["X-RateLimit-Remaining"] = "0"
            headers["Retry-After"] = retry_after_text(wait, window)
            raise ApiError(429, "ThrottlerException: Too Many Requests", headers)
        headers["X-RateLimit-Remaining"] = str(self._limiter.remaining(key.name, limit, window, now))
        return headers

    def authorize(self, key: ApiKey, operation: str) -> None:
        """AUTH: "403 Forbidden: Key is valid but doesn't have access to this resource"."""
        needed = OPERATION_SCOPES.get(operation)
        if needed is not None and key.scopes is not None and needed not in key.scopes:
            raise ApiError(403, f"Forbidden resource: this API key lacks the {needed} scope")

    def operate(
        self, operation: str, session_id: str | None, query: dict[str, str], body: bytes, key: ApiKey
    ) -> Reply:
        """The operation itself, after auth, limit and scope. ApiError becomes the documented error."""
        if operation == "other" or session_id is None:
            raise ApiError(404, "Route not found")
        if operation == "get_session":
            return json_reply(200, self._require_api(session_id))
        if operation == "list_history":
            return self._list_history(session_id, query)
        if operation == "send":
            return self._send(session_id, contract.parse_json_object(body), key)
        return self._update(session_id, contract.parse_json_object(body) if body else {}, key)

    def _require_api(self, session_id: str) -> dict[str, Any]:
        session = self._store.session(session_id)
        if session is None:
            # GET documents only the 200 answer; the shape is AUTH's error shape, the text is chosen.
            raise ApiError(404, "Chat session not found")
        return session

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
        order = self.history_order
        cursor = query.get("cursor")
        size = max(1, int(self.page_size))
        start = contract.decode_cursor(session_id, cursor, order) if cursor else None
        if order == "newest_first":
            items, next_offset = self._store.page_newest_first(session_id, start, size)
        else:
            items, next_offset = self._store.page(session_id, start or 0, size)
        next_cursor = (
            contract.encode_cursor(session_id, next_offset, order) if next_offset is not None else None
        )
        return json_reply(200, {"items": items, "next": next_cursor})

    def _send(self, session_id: str, data: dict[str, Any], key: ApiKey) -> Reply:
        """SEND: validate, append the message to the history as the sender, answer 201 with its id."""
        contract.validate_send(data, self.accepted_senders)
        session = self._require_api(session_id)
        message = data["message"]
        sent_media = contract.check_channel_media(message.get("attachments") or [], session)
        sender = data["sender"]
        agent = data.get("agent")
        if sender == "contact":
            stored = (session.get("contact") or {}).get("name")
            sender_type, name = "contact", (data.get("contact") or {}).get("name") or stored
        else:
            sender_type, name = "human_agent", (agent or {}).get("name")
        item = history_item(
            message.get("text") or "",
            sender_type=sender_type,
            name=name,
            attachments=[self._history_attachment(a) for a in sent_media],
        )
        self._store.merge_custom_data(
            session_id, data.get("custom_data"), (data.get("contact") or {}).get("custom_data")
        )
        with self.lock:  # history order and the sent list agree, even under concurrent sends
            self._store.append(session_id, item, item["created_at"], live=True)
            self._sent.append(
                SentMessage(
                    session_id,
                    item["id"],
                    sender,
                    message.get("text"),
                    agent,
                    key.name,
                    item["created_at"],
                    data,
                    tuple({k: v for k, v in a.items() if k != "data" and v is not None} for a in sent_media),
                )
            )
        return json_reply(201, contract.send_answer(item["id"]))

    def _update(self, session_id: str, data: dict[str, Any], key: ApiKey) -> Reply:
        """UPDATE: set the status; "This response has no body data" (status code undocumented: 200)."""
        contract.validate_update(data)
        self._require_api(session_id)
        at = now_iso()
        fields: dict[str, Any] = {"updated_at": at}
        if "status" in data:
            fields["status"] = data["status"]
        self._store.update(session_id, fields)
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

    # ------------------------------------------------------------------ admin API

    def admin(self, method: str, name: str, data: Any, query: dict[str, str]) -> Reply:
        """Dispatch `/_sim/<name>`. ValueError/TypeError become 400, KeyError 404 in the handler."""
        return admin_route(self, method, name, data, query)

    def sent_as_dicts(self) -> list[dict[str, Any]]:
        return [asdict(message) for message in self.sent_messages]


def _seeded_attachment(given: dict[str, Any]) -> dict[str, Any]:
    """A history attachment to seed: `{name, size, type, url}` (and `id`); nothing else is accepted."""
    if not isinstance(given, dict):
        raise ValueError("attachments must be objects")
    extra = sorted(set(given) - {"id", "name", "size", "type", "url"})
    if extra:
        raise ValueError(f"history attachments take id, name, size, type, url; not {', '.join(extra)}")
    made = contract.history_attachment(
        given.get("name"), given.get("url"), given.get("type"), given.get("size")
    )
    return {**made, **({"id": given["id"]} if given.get("id") else {})}
