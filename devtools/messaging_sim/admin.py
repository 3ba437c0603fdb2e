"""The Messaging API simulator's `/_sim/` routes: simkit's common ones, its settings, the rep's actions."""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any

from devtools.messaging_sim.faults import FaultRule
from devtools.simkit import admin
from devtools.simkit.admin import done
from devtools.simkit.server import Reply, json_reply

CONFIG_FIELDS = (
    "activity_ids",
    "attachment_max_kb",
    "channel_configured",
    "closed_messages_readable_seconds",
    "create_status",
    "customer_attachments",
    "drop_webhook",
    "error_code_field",
    "latency",
    "messages_from_author",
    "token_lifetime",
    "webhook_attempts",
    "webhook_retry_pause",
    "webhook_timeout",
    "webhook_url",
    "workstream_linked",
)
REP_FIELDS = (
    "accept_delay",
    "auto_accept",
    "auto_reply",
    "duplicate_every",
    "events_as_messages",
    "greeting",
    "include_ids",
    "name",
    "pascal_case",
    "token_header",
    "token_kind",
)


def _config(sim: Any) -> dict[str, Any]:
    return {
        **{n: getattr(sim, n) for n in CONFIG_FIELDS},
        "rep": {n: getattr(sim.rep, n) for n in REP_FIELDS},
    }


def _set_config(sim: Any, data: dict[str, Any]) -> Reply:
    admin.configure(sim.rep, data.pop("rep", None) or {}, REP_FIELDS, prefix="rep.")
    admin.configure(sim, data, CONFIG_FIELDS)
    return json_reply(200, _config(sim))


def _send_file(sim: Any, data: dict[str, Any]) -> Reply:
    """`{conversation_id, base64, content_type, name, text?, open_url?, <file behaviours>}`."""
    conversation_id, encoded, content_type, name = (
        data.pop(k) for k in ("conversation_id", "base64", "content_type", "name")
    )
    raw = base64.b64decode(str(encoded), validate=True)
    index, url = sim.rep.send_file(conversation_id, raw, content_type, name, **data)
    return json_reply(201, {"index": index, "url": url})


def _rep(action: str, *required: str, **optional: Any) -> admin.Route:
    """`POST /_sim/rep/<action>`: `sim.rep.<action>(*required, **optional)` from the body, 201 `{index}`."""

    def call(sim: Any, data: dict[str, Any]) -> Reply:
        given = {name: data.get(name, default) for name, default in optional.items()}
        return json_reply(201, {"index": getattr(sim.rep, action)(*(data[n] for n in required), **given)})

    return call


ROUTES: dict[tuple[str, str], admin.Route] = {
    **admin.common_routes(FaultRule),
    ("GET", "conversations"): lambda s, _: json_reply(200, {"value": s.conversations}),
    ("GET", "deliveries"): lambda s, _: json_reply(200, {"value": [d.as_dict() for d in s.rep.deliveries]}),
    ("GET", "attachments"): lambda s, d: json_reply(
        200, {"value": [asdict(a) for a in s.received_attachments(d.get("conversation_id"))]}
    ),
    ("GET", "config"): lambda s, _: json_reply(200, _config(s)),
    ("POST", "config"): _set_config,
    ("POST", "expire-tokens"): lambda s, _: done(s.expire_tokens()),
    ("POST", "token"): lambda s, d: json_reply(201, {"token": s.minter.mint(d.get("kind", "valid"))}),
    ("POST", "end-silently"): lambda s, d: done(
        s.end_silently(d["conversation_id"], d.get("reason", "timeout"))
    ),
    ("POST", "rep/say"): _rep("say", "conversation_id", text=None, attachments=None, drop=False),
    ("POST", "rep/send-file"): _send_file,
    ("POST", "rep/end"): _rep("end", "conversation_id", event="AgentEndSession"),
    ("POST", "rep/event"): _rep("event", "conversation_id", "name"),
    ("POST", "rep/typing"): _rep("typing", "conversation_id"),
    ("POST", "rep/redeliver"): _rep("redeliver", "index"),
    ("POST", "rep/rotate-key"): lambda s, _: done(s.minter.rotate()),
}
