"""The `/_sim/` admin API: the Python API over HTTP, for a simulator running in another process.

Names are `/`-separated; each segment is percent-decoded on its own, so a session id may hold any
character. Answers are plain JSON (`{"error": ...}` on a 400/404), never OpenCX's error shape."""

from __future__ import annotations

import base64
import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from devtools.opencx_sim.demo import seed_demo
from devtools.opencx_sim.faults import FaultRule
from devtools.opencx_sim.server import Reply, json_reply

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
    else:
        flat = _ROUTES.get((method, "/".join(parts)))
        if flat is not None:
            return flat(sim, data)
    known = [f"{m} /_sim/{n}" for m, n in _ROUTES] + [
        f"{m} /_sim/sessions/<id>{'/' + a if a else ''}" for m, a in _SESSION_ROUTES
    ]
    return json_reply(404, {"error": f"unknown admin route; known: {', '.join(known)}"})


def _done(_: object = None) -> Reply:
    return Reply(204, b"", content_type=None)


def _add_session(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    """Either `{"session": {...}, "history": [...]}` (stored as given) or add_session's keyword fields."""
    if "session" in data:
        session = data["session"]
        if not isinstance(session, dict) or "id" not in session:
            raise ValueError("session must be an object with an id")
        history = data.get("history", [])
        meta = {k: data.get(k) for k in ("reason", "contact_reason")}
        return json_reply(201, {"id": sim.put_session(session, list(history), **meta)})
    unknown = sorted(set(data) - set(inspect.signature(sim.add_session).parameters))
    if unknown:
        raise ValueError(f"unknown session fields: {', '.join(unknown)}")
    return json_reply(201, {"id": sim.add_session(**data)})


def _add_key(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    unknown = sorted(set(data) - {"key", "scopes", "name"})
    if unknown:
        raise ValueError(f"unknown key fields: {', '.join(unknown)}")
    return json_reply(201, {"key": sim.add_key(data.get("key"), data.get("scopes"), data.get("name"))})


def _remove_key(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    sim.remove_key(str(data["key"]))
    return _done()


def _add_fault(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    sim.add_fault(FaultRule.from_dict(data))
    return json_reply(201, {"faults": len(sim.faults)})


def _config(sim: OpenCXSimulator) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(sim, name) for name in _CONFIG_FIELDS}
    values["accepted_senders"] = sorted(sim.accepted_senders)
    return values


def _set_config(sim: OpenCXSimulator, data: dict[str, Any]) -> Reply:
    unknown = sorted(set(data) - set(_CONFIG_FIELDS))
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(unknown)}")
    for name, value in data.items():
        if name == "accepted_senders":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError("accepted_senders must be a list of strings")
            sim.accepted_senders = frozenset(value)
        elif name == "open_files":
            if not isinstance(value, bool):
                raise ValueError("open_files must be a boolean")
            sim.open_files = value
        elif name == "history_order":
            sim.history_order = str(value)  # ValueError (400) for anything but the two orders
        elif value is None and name == "rate_limit":
            sim.rate_limit = None
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a non-negative number")
        else:
            setattr(sim, name, int(value) if name in ("page_size", "rate_limit") else float(value))
    return json_reply(200, _config(sim))


def _seed_demo(sim: OpenCXSimulator, _: dict[str, Any]) -> Reply:
    return json_reply(201, seed_demo(sim))


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    return value in (True, "true", "1")


def _event_options(data: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {"as_array": _flag(data, "as_array")}
    if "organization_id" in data:
        options["organization_id"] = data["organization_id"]
    return options


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
    options = _event_options(data)
    if data.get("timestamp"):
        options["timestamp"] = data["timestamp"]
    return json_reply(200, sim.handoff_event(session_id, **options))


def _customer_reply(sim: OpenCXSimulator, session_id: str, data: dict[str, Any]) -> Reply:
    options = _event_options(data)
    if "include_text" in data:
        options["include_text"] = _flag(data, "include_text")
    return json_reply(201, sim.customer_reply(session_id, str(data.get("text", "")), _files(data), **options))


def _close(sim: OpenCXSimulator, session_id: str, data: dict[str, Any]) -> Reply:
    status = str(data.get("status", "closed_resolved"))
    return json_reply(200, sim.close_session(session_id, status, **_event_options(data)))


_ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "requests"): lambda s, _: json_reply(200, {"value": [r._asdict() for r in s.requests]}),
    ("GET", "stats"): lambda s, _: json_reply(200, s.stats()),
    ("GET", "faults"): lambda s, _: json_reply(200, {"value": [f.to_dict() for f in s.faults]}),
    ("GET", "config"): lambda s, _: json_reply(200, _config(s)),
    ("GET", "sessions"): lambda s, _: json_reply(200, {"value": s.session_ids}),
    ("GET", "sent"): lambda s, _: json_reply(200, {"value": s.sent_as_dicts()}),
    ("GET", "updates"): lambda s, _: json_reply(200, {"value": [u.__dict__ for u in s.updates]}),
    ("GET", "files"): lambda s, _: json_reply(200, {"value": s.files.listing()}),
    ("POST", "sessions"): _add_session,
    ("POST", "keys"): _add_key,
    ("DELETE", "keys"): _remove_key,
    ("POST", "faults"): _add_fault,
    ("DELETE", "faults"): lambda s, _: _done(s.clear_faults()),
    ("POST", "config"): _set_config,
    ("POST", "reset"): lambda s, _: _done(s.reset()),
    ("POST", "reset-rate-limits"): lambda s, _: _done(s.reset_rate_limits()),
    ("POST", "seed-demo"): _seed_demo,
}

_SESSION_ROUTES: dict[tuple[str, str], SessionHandler] = {
    ("GET", ""): _show_session,
    ("POST", "messages"): _add_message,
    ("GET", "handoff-event"): _handoff_event,
    ("POST", "handoff-event"): _handoff_event,
    ("POST", "customer-reply"): _customer_reply,
    ("POST", "close"): _close,
}
