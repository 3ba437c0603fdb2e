"""The Messaging API simulator's `/_sim/` routes: simkit's common ones, its settings, the rep's actions."""

from __future__ import annotations

import base64
from typing import Any

from devtools.messaging_sim.faults import FaultRule
from devtools.simkit import admin
from devtools.simkit.admin import done
from devtools.simkit.server import Reply, json_reply

CONFIG_FIELDS = (
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
)
REP_FIELDS = (
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
)


def _config(sim: Any) -> dict[str, Any]:
    config = {name: getattr(sim, name) for name in sorted(CONFIG_FIELDS)}
    config["rep"] = {name: getattr(sim.rep, name) for name in sorted(REP_FIELDS)}
    return config


def _set_config(sim: Any, data: dict[str, Any]) -> Reply:
    rep = data.pop("rep", None) or {}
    admin.configure(sim.rep, rep, REP_FIELDS, prefix="rep.")
    admin.configure(sim, data, CONFIG_FIELDS)
    return json_reply(200, _config(sim))


def _send_file(sim: Any, data: dict[str, Any]) -> Reply:
    """`{conversation_id, base64, content_type, name, text?, open_url?, <file behaviours>}`."""
    given = {k: data.pop(k) for k in ("conversation_id", "base64", "content_type", "name")}
    raw = base64.b64decode(str(given["base64"]), validate=True)
    index, url = sim.rep.send_file(
        given["conversation_id"], raw, given["content_type"], given["name"], **data
    )
    return json_reply(201, {"index": index, "url": url})


def _index(index: int) -> Reply:
    return json_reply(201, {"index": index})


ROUTES: dict[tuple[str, str], admin.Route] = {
    **admin.common_routes(FaultRule),
    ("GET", "conversations"): lambda s, _: json_reply(200, {"value": s.conversations}),
    ("GET", "deliveries"): lambda s, _: json_reply(200, {"value": [d.as_dict() for d in s.rep.deliveries]}),
    ("GET", "attachments"): lambda s, d: json_reply(
        200, {"value": [a.as_dict() for a in s.received_attachments(d.get("conversation_id"))]}
    ),
    ("GET", "config"): lambda s, _: json_reply(200, _config(s)),
    ("POST", "config"): _set_config,
    ("POST", "expire-tokens"): lambda s, _: done(s.expire_tokens()),
    ("POST", "token"): lambda s, d: json_reply(201, {"token": s.minter.mint(d.get("kind", "valid"))}),
    ("POST", "end-silently"): lambda s, d: done(
        s.end_silently(d["conversation_id"], d.get("reason", "timeout"))
    ),
    ("POST", "rep/say"): lambda s, d: _index(
        s.rep.say(d["conversation_id"], d.get("text"), d.get("attachments"), drop=bool(d.get("drop")))
    ),
    ("POST", "rep/send-file"): _send_file,
    ("POST", "rep/end"): lambda s, d: _index(
        s.rep.end(d["conversation_id"], d.get("event", "AgentEndSession"))
    ),
    ("POST", "rep/event"): lambda s, d: _index(s.rep.event(d["conversation_id"], d["name"])),
    ("POST", "rep/typing"): lambda s, d: _index(s.rep.typing(d["conversation_id"])),
    ("POST", "rep/redeliver"): lambda s, d: _index(s.rep.redeliver(int(d["index"]))),
    ("POST", "rep/rotate-key"): lambda s, _: done(s.minter.rotate()),
}


def admin_route(sim: Any, method: str, name: str, data: Any) -> Reply:
    return admin.route(ROUTES, sim, method, name, data)
