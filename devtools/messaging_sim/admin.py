"""The `/_sim/` admin API: the simulator's Python API over HTTP, for a simulator in another process."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from devtools.messaging_sim.faults import FaultRule
from devtools.messaging_sim.server import json_reply
from devtools.simkit.server import Reply

# messaging_sim.simulator.MessagingSimulator: that module imports this one, so it is not imported here.
MessagingSimulator = Any

_CONFIG_FIELDS = frozenset(
    {
        "latency",
        "create_status",
        "channel_configured",
        "workstream_linked",
        "error_code_field",
        "webhook_url",
        "webhook_timeout",
        "webhook_attempts",
        "webhook_retry_pause",
        "token_lifetime",
        "activity_ids",
        "drop_webhook",
        "closed_messages_readable_seconds",
        "messages_from_author",
        "attachment_max_kb",
        "customer_attachments",
    }
)
_REP_FIELDS = frozenset(
    {
        "name",
        "auto_accept",
        "accept_delay",
        "auto_reply",
        "greeting",
        "include_ids",
        "pascal_case",
        "events_as_messages",
        "token_header",
        "token_kind",
        "duplicate_every",
    }
)


def admin_route(sim: MessagingSimulator, method: str, name: str, data: Any) -> Reply:
    routes: dict[tuple[str, str], Callable[[MessagingSimulator, dict[str, Any]], Reply]] = {
        ("GET", "conversations"): lambda s, _: json_reply(200, {"value": s.conversations}),
        ("GET", "requests"): lambda s, _: json_reply(200, {"value": [r._asdict() for r in s.requests]}),
        ("GET", "deliveries"): lambda s, _: json_reply(
            200, {"value": [d.as_dict() for d in s.rep.deliveries]}
        ),
        ("GET", "stats"): lambda s, _: json_reply(200, s.stats()),
        ("GET", "faults"): lambda s, _: json_reply(200, {"value": [f.to_dict() for f in s.faults]}),
        ("GET", "config"): lambda s, _: json_reply(200, _config(s)),
        ("POST", "faults"): _add_fault,
        ("DELETE", "faults"): lambda s, _: _done(s.clear_faults()),
        ("POST", "reset"): lambda s, _: _done(s.reset()),
        ("POST", "expire-tokens"): lambda s, _: _done(s.expire_tokens()),
        ("POST", "config"): _set_config,
        ("POST", "token"): lambda s, d: json_reply(201, {"token": s.minter.mint(d.get("kind", "valid"))}),
        ("POST", "rep/say"): lambda s, d: _index(
            s.rep.say(d["conversation_id"], d.get("text"), d.get("attachments"), drop=bool(d.get("drop")))
        ),
        ("POST", "end-silently"): lambda s, d: _done(
            s.end_silently(d["conversation_id"], d.get("reason", "timeout"))
        ),
        ("POST", "rep/end"): lambda s, d: _index(
            s.rep.end(d["conversation_id"], d.get("event", "AgentEndSession"))
        ),
        ("POST", "rep/event"): lambda s, d: _index(s.rep.event(d["conversation_id"], d["name"])),
        ("GET", "attachments"): lambda s, d: json_reply(
            200, {"value": [a.as_dict() for a in s.received_attachments(d.get("conversation_id"))]}
        ),
        ("GET", "files"): lambda s, _: json_reply(200, {"value": s.files.listing()}),
        ("POST", "rep/send-file"): _send_file,
        ("POST", "rep/typing"): lambda s, d: _index(s.rep.typing(d["conversation_id"])),
        ("POST", "rep/redeliver"): lambda s, d: _index(s.rep.redeliver(int(d["index"]))),
        ("POST", "rep/rotate-key"): lambda s, _: _done(s.minter.rotate()),
    }
    handler = routes.get((method, name))
    if handler is None:
        known = ", ".join(f"{m} /_sim/{n}" for m, n in routes)
        return json_reply(404, {"error": f"unknown admin route; known: {known}"})
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return handler(sim, data)


def _done(_: None) -> Reply:
    return Reply(204, b"", content_type=None)


def _index(index: int) -> Reply:
    return json_reply(201, {"index": index})


def _send_file(sim: MessagingSimulator, data: dict[str, Any]) -> Reply:
    """`{conversation_id, base64, content_type, name, text?, open_url?, <file behaviours>}`."""
    options = {
        k: v for k, v in data.items() if k not in ("conversation_id", "base64", "content_type", "name")
    }
    raw = base64.b64decode(str(data["base64"]), validate=True)
    index, url = sim.rep.send_file(
        data["conversation_id"], raw, data["content_type"], data["name"], **options
    )
    return json_reply(201, {"index": index, "url": url})


def _add_fault(sim: MessagingSimulator, data: dict[str, Any]) -> Reply:
    sim.add_fault(FaultRule.from_dict(data))
    return json_reply(201, {"faults": len(sim.faults)})


def _config(sim: MessagingSimulator) -> dict[str, Any]:
    config = {name: getattr(sim, name) for name in sorted(_CONFIG_FIELDS)}
    config["rep"] = {name: getattr(sim.rep, name) for name in sorted(_REP_FIELDS)}
    return config


def _set_config(sim: MessagingSimulator, data: dict[str, Any]) -> Reply:
    rep = data.pop("rep", {}) or {}
    unknown = sorted((set(data) - _CONFIG_FIELDS) | {f"rep.{k}" for k in set(rep) - _REP_FIELDS})
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(unknown)}")
    for target, values in ((sim, data), (sim.rep, rep)):
        for name, value in values.items():
            current = getattr(target, name)
            widening = isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool)
            mismatch = current is not None and value is not None and type(current) is not type(value)
            if mismatch and not widening:
                raise ValueError(f"{name} must be a {type(current).__name__}")
            setattr(target, name, value)
    return json_reply(200, _config(sim))
