"""The HTTP side over simkit's transport (werkzeug, drops): the four chat-session operations with faults,
the per-key limit, and the `/_sim/` admin API. What each operation does lives in the simulator.

Admin names are `/`-separated; each segment is percent-decoded on its own, so a session id may hold any
character. Admin answers are plain JSON (`{"error": ...}` on a 400/404), never OpenCX's error shape."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote

from devtools.opencx_sim.contract import OPERATIONS, ApiError, error_reply
from devtools.opencx_sim.events import seed_demo
from devtools.simkit import admin
from devtools.simkit import faults as simkit_faults
from devtools.simkit import server as simkit_server
from devtools.simkit.server import ADMIN_PREFIX, Reply, json_reply

# opencx_sim.simulator.OpenCXSimulator: that module imports this one, so it is not imported here.
OpenCXSimulator = Any
CONFIG_FIELDS = ("page_size", "rate_limit", "rate_window", "latency", "history_order", "open_files")
_ID = "<id>"  # the admin data key a session route's id is passed under


@dataclass
class FaultRule(simkit_faults.FaultRule):
    """simkit's kinds on the four operations (and "other"), optionally narrowed to one `session_id`,
    with the error `message` to answer."""

    OPERATIONS: ClassVar[frozenset[str] | None] = frozenset({*(o for o, _ in OPERATIONS.values()), "other"})

    session_id: str | None = field(default=None, kw_only=True)
    message: str | None = field(default=None, kw_only=True)

    def matches(self, operation: str, subject: str | None = None) -> bool:
        return super().matches(operation) and self.session_id in (None, subject)


def classify(method: str, path: str) -> tuple[str, str | None]:
    """(operation, session id) of an API request. Segments are split before unquoting, so an id holding
    an encoded '/' stays one id. Anything else is "other" (and answered 404, like an unknown route)."""
    parts = path.split("/")
    if len(parts) < 4 or parts[:3] != ["", "chat", "sessions"] or not parts[3]:
        return "other", None
    return OPERATIONS.get((tuple(parts[4:]), method), ("other", None))[0], unquote(parts[3])


class SimHandler(simkit_server.SimHandler):
    """OpenCX's routes and error shapes over simkit's transport."""

    server_version = "OpenCXSimulator/1.0"
    unquote_path = False  # classify() splits segments before unquoting
    bad_length_message = "Content-Length is not a number"
    too_large_message = "Request body is too large (over {max_body} bytes)"
    max_body = 32 * 1024 * 1024  # chosen: room for a 16 MB WhatsApp medium as base64

    def route(self, path: str, query: dict[str, str]) -> None:
        if path.startswith(ADMIN_PREFIX):
            self.send(self.call_admin(path[len(ADMIN_PREFIX) :], query))
        else:
            self.handle_api(path, query)

    def body_error_reply(self, status: int, message: str) -> Reply:
        return error_reply(status, message)

    def crash_reply(self) -> Reply:
        return error_reply(500, "Simulator error; see sim.errors.")

    def handle_api(self, path: str, query: dict[str, str]) -> None:
        """Fault, latency, then auth, limit, scope and the operation; every call is recorded."""
        sim = self.server.sim
        started = time.perf_counter()
        operation, session_id = classify(self.command, path)
        self.key_name: str | None = None

        def record(status: int, fault: str | None) -> None:
            fields = {"path": path, "query": query, "operation": operation, "session_id": session_id}
            sim.add_call(self, started, status, fault, key=self.key_name, **fields)

        body = self.read_api_body(record)
        if body is not None:
            self.serve_api(
                choose_fault=lambda: sim.choose_fault(operation, session_id),
                handle=lambda: self.handle_admitted(operation, session_id, query, body),
                fault_reply=lambda f: error_reply(
                    f.status, f.message or f"Simulated {f.status} fault", f.retry_after_headers()
                ),
                record=record,
                latency=sim.latency,
            )

    def handle_admitted(
        self, operation: str, session_id: str | None, query: dict[str, str], body: bytes
    ) -> Reply:
        sim = self.server.sim
        try:
            key = sim.authenticate(self.headers.get("Authorization"))
            if key is None:
                raise ApiError(401, "Unauthorized")
            self.key_name = key.name
            rate_headers = sim.throttle(key)
            sim.authorize(key, operation)
            content_type = self.headers.get("Content-Type", "")
            reply: Reply = sim.operate(operation, session_id, query, body, key, content_type)
            reply.headers.update(rate_headers)
            return reply
        except ApiError as error:
            return error.reply


def admin_route(sim: OpenCXSimulator, method: str, name: str, data: Any, query: dict[str, str]) -> Reply:
    """Answer one `/_sim/<name>` call; an unknown route is a 404 that lists the known ones."""
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    parts = [unquote(part) for part in name.strip("/").split("/")]
    if len(parts) >= 2 and parts[0] == "sessions":
        data = {**query, **data, _ID: parts[1]}
        parts[1] = _ID
    handler = _ROUTES.get((method, "/".join(parts)))
    return handler(sim, data) if handler else admin.unknown(f"{m} /_sim/{n}" for m, n in _ROUTES)


def _add_session(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    """Either `{"session": {...}, "history": [...]}` (stored as given) or add_session's keyword fields
    (an unknown one is a TypeError: a 400)."""
    if "session" not in data:
        return json_reply(201, {"id": sim.add_session(**data)})
    session = data["session"]
    if not isinstance(session, dict) or "id" not in session:
        raise ValueError("session must be an object with an id")
    meta = {k: data.get(k) for k in ("reason", "contact_reason")}
    return json_reply(201, {"id": sim.put_session(session, list(data.get("history", [])), **meta)})


def _config(sim: OpenCXSimulator) -> Reply:
    values = {name: getattr(sim, name) for name in CONFIG_FIELDS}
    return json_reply(200, {**values, "accepted_senders": sorted(sim.accepted_senders)})


def _set_config(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    senders = data.pop("accepted_senders", None)
    if senders is not None and (
        not isinstance(senders, list) or not all(isinstance(v, str) for v in senders)
    ):
        raise ValueError("accepted_senders must be a list of strings")
    admin.configure(sim, data, CONFIG_FIELDS)  # history_order checks itself
    if senders is not None:
        sim.accepted_senders = frozenset(senders)
    return _config(sim)


def _options(
    data: dict[str, Any], *flags: str, keys: tuple[str, ...] = ("organization_id",)
) -> dict[str, Any]:
    """Envelope options from a query or body: `as_array` and other `flags` ("true"/"1" from a query)."""
    options = {flag: data.get(flag) in (True, "true", "1") for flag in ("as_array", *flags) if flag in data}
    return {**options, **{key: data[key] for key in keys if key in data}}


def _files(data: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """`files: [{name, type, base64}]` of an admin body, decoded (ValueError, a 400, when not base64)."""
    return [
        (f["name"], f["type"], base64.b64decode(f["base64"], validate=True)) for f in data.get("files", [])
    ]


def _show_session(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    session = sim.session(data[_ID])
    if session is None:
        raise KeyError(data[_ID])
    return json_reply(200, {"session": session, "history": sim.history(data[_ID])})


def _add_message(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    options = {k: data[k] for k in ("sender_type", "name", "event_type", "attachments") if k in data}
    return json_reply(201, sim.add_message(data[_ID], str(data["text"]), files=_files(data), **options))


def _handoff_event(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    options = _options(data, keys=("organization_id", "timestamp"))
    return json_reply(200, sim.handoff_event(data[_ID], **options))


def _customer_reply(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    text, options = str(data.get("text", "")), _options(data, "include_text")
    return json_reply(201, sim.customer_reply(data[_ID], text, _files(data), **options))


def _close(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    status = str(data.get("status", "closed_resolved"))
    return json_reply(200, sim.close_session(data[_ID], status, **_options(data)))


_ROUTES: dict[tuple[str, str], Callable[[OpenCXSimulator, dict[str, Any]], Reply]] = {
    **admin.common_routes(FaultRule),
    ("GET", "config"): lambda s, _: _config(s),
    ("GET", "sessions"): lambda s, _: json_reply(200, {"value": s.session_ids}),
    ("GET", "sent"): lambda s, _: json_reply(200, {"value": [asdict(m) for m in s.sent_messages]}),
    ("GET", "updates"): lambda s, _: json_reply(200, {"value": [asdict(u) for u in s.updates]}),
    ("POST", "sessions"): _add_session,
    ("POST", "keys"): lambda s, d: json_reply(201, {"key": s.add_key(**d)}),
    ("DELETE", "keys"): lambda s, d: admin.done(s.remove_key(str(d["key"]))),
    ("POST", "config"): _set_config,
    ("POST", "reset-rate-limits"): lambda s, _: admin.done(s.reset_rate_limits()),
    ("POST", "seed-demo"): lambda s, _: json_reply(201, seed_demo(s)),
    ("GET", f"sessions/{_ID}"): _show_session,
    ("POST", f"sessions/{_ID}/messages"): _add_message,
    ("GET", f"sessions/{_ID}/handoff-event"): _handoff_event,
    ("POST", f"sessions/{_ID}/handoff-event"): _handoff_event,
    ("POST", f"sessions/{_ID}/customer-reply"): _customer_reply,
    ("POST", f"sessions/{_ID}/close"): _close,
}
