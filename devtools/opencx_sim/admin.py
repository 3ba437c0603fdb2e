"""The `/_sim/` admin API: the Python API over HTTP, for a simulator running in another process.

Names are `/`-separated; each segment is percent-decoded on its own, so a session id may hold any
character. Answers are plain JSON (`{"error": ...}` on a 400/404), never OpenCX's error shape."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from devtools.opencx_sim.demo import seed_demo
from devtools.opencx_sim.faults import FaultRule
from devtools.simkit import admin
from devtools.simkit.admin import done
from devtools.simkit.server import Reply, json_reply

# opencx_sim.simulator.OpenCXSimulator: that module imports this one, so it is not imported here.
OpenCXSimulator = Any

Handler = Callable[["OpenCXSimulator", dict[str, Any]], Reply]
SessionHandler = Callable[["OpenCXSimulator", str, dict[str, Any]], Reply]

_CONFIG_FIELDS = (
    "page_size",
    "rate_limit",
    "rate_window",
    "latency",
    "accepted_senders",
    "history_order",
    "open_files",
)


def admin_route(sim: OpenCXSimulator, method: str, name: str, data: Any, query: dict[str, str]) -> Reply:
    """Answer one admin call; unknown routes are a 404 that lists the known ones."""
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    parts = [unquote(part) for part in name.strip("/").split("/")]
    if len(parts) >= 2 and parts[0] == "sessions":
        action = "/".join(parts[2:])
        handler = _SESSION_ROUTES.get((method, action))
        if handler is not None:
            return handler(sim, parts[1], {**query, **data})
    elif (method, "/".join(parts)) in _ROUTES:
        return _ROUTES[(method, "/".join(parts))](sim, data)
    known = [f"{m} /_sim/{n}" for m, n in _ROUTES] + [
        f"{m} /_sim/sessions/<id>{'/' + a if a else ''}" for m, a in _SESSION_ROUTES
    ]
    return admin.unknown(known)


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


def _config(sim: OpenCXSimulator) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(sim, name) for name in _CONFIG_FIELDS}
    values["accepted_senders"] = sorted(sim.accepted_senders)
    return values


def _set_config(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    senders = data.pop("accepted_senders", None)
    if senders is not None and (
        not isinstance(senders, list) or not all(isinstance(v, str) for v in senders)
    ):
        raise ValueError("accepted_senders must be a list of strings")
    admin.configure(sim, data, set(_CONFIG_FIELDS) - {"accepted_senders"})  # history_order checks itself
    if senders is not None:
        sim.accepted_senders = frozenset(senders)
    return json_reply(200, _config(sim))


def _event_options(
    data: dict[str, Any], *flags: str, keys: tuple[str, ...] = ("organization_id",)
) -> dict[str, Any]:
    """Envelope options from a query or body: `as_array` and other `flags` ("true"/"1" from a query)."""
    options = {flag: data.get(flag) in (True, "true", "1") for flag in ("as_array", *flags) if flag in data}
    return {**options, **{key: data[key] for key in keys if key in data}}


def _show_session(sim: OpenCXSimulator, session_id: str, _: dict[str, Any]) -> Reply:
    session = sim.session(session_id)
    if session is None:
        raise KeyError(session_id)
    return json_reply(200, {"session": session, "history": sim.history(session_id)})


def _files(data: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """`files: [{name, type, base64}]` of an admin body, decoded (ValueError, a 400, when not base64)."""
    return [
        (f["name"], f["type"], base64.b64decode(f["base64"], validate=True)) for f in data.get("files", [])
    ]


def _add_message(sim: OpenCXSimulator, session_id: str, data: dict[str, Any]) -> Reply:
    options = {k: data[k] for k in ("sender_type", "name", "event_type", "attachments") if k in data}
    return json_reply(201, sim.add_message(session_id, str(data["text"]), files=_files(data), **options))


def _handoff_event(sim: OpenCXSimulator, session_id: str, data: dict[str, Any]) -> Reply:
    options = _event_options(data, keys=("organization_id", "timestamp"))
    return json_reply(200, sim.handoff_event(session_id, **options))


def _customer_reply(sim: OpenCXSimulator, session_id: str, data: dict[str, Any]) -> Reply:
    text, options = str(data.get("text", "")), _event_options(data, "include_text")
    return json_reply(201, sim.customer_reply(session_id, text, _files(data), **options))


def _close(sim: OpenCXSimulator, session_id: str, data: dict[str, Any]) -> Reply:
    status = str(data.get("status", "closed_resolved"))
    return json_reply(200, sim.close_session(session_id, status, **_event_options(data)))


_ROUTES: dict[tuple[str, str], Handler] = {
    **admin.common_routes(FaultRule),
    ("GET", "config"): lambda s, _: json_reply(200, _config(s)),
    ("GET", "sessions"): lambda s, _: json_reply(200, {"value": s.session_ids}),
    ("GET", "sent"): lambda s, _: json_reply(200, {"value": s.sent_as_dicts()}),
    ("GET", "updates"): lambda s, _: json_reply(200, {"value": [u.__dict__ for u in s.updates]}),
    ("POST", "sessions"): _add_session,
    ("POST", "keys"): lambda s, d: json_reply(201, {"key": s.add_key(**d)}),
    ("DELETE", "keys"): lambda s, d: done(s.remove_key(str(d["key"]))),
    ("POST", "config"): _set_config,
    ("POST", "reset-rate-limits"): lambda s, _: done(s.reset_rate_limits()),
    ("POST", "seed-demo"): lambda s, _: json_reply(201, seed_demo(s)),
}

_SESSION_ROUTES: dict[tuple[str, str], SessionHandler] = {
    ("GET", ""): _show_session,
    ("POST", "messages"): _add_message,
    ("GET", "handoff-event"): _handoff_event,
    ("POST", "handoff-event"): _handoff_event,
    ("POST", "customer-reply"): _customer_reply,
    ("POST", "close"): _close,
}
