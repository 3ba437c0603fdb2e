"""The Messaging API simulator's `/_sim/` routes: simkit's common ones, its settings, the rep's actions."""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any

from devtools.messaging_sim.faults import FaultRule
from devtools.simkit import admin
from devtools.simkit.admin import done
from devtools.simkit.server import Reply, json_reply


class Settings:
    """The simulator's switches (constructor keywords, POST /_sim/config): the docs' readings by default,
    each knob making the simulator kinder or harder on purpose."""

    webhook_url: str | None = None
    latency: float = 0.0
    create_status: int = 200  # undocumented: any 2xx must do
    channel_configured: bool = True  # False: 404 / 30004
    workstream_linked: bool = True  # False: 400 / 30014 on create
    error_code_field: str = "errorCode"  # undocumented: where the 300xx code sits in the body
    webhook_timeout: float = 10.0
    webhook_attempts: int = 3
    webhook_retry_pause: float = 1.0
    activity_ids: bool = False  # True: activities carry `id` and `timestamp` (the docs show neither)
    drop_webhook: int = 0  # the next N rep messages are stored but never reach the webhook
    closed_messages_readable_seconds: float = 0.0  # 0: GET .../messages answers 404 once it ended
    messages_from_author: bool = False  # True: GET .../messages fills `from` (docs: {})
    attachment_max_kb: int = 5120  # the org's file size limit, "5,120 kilobytes" by default (store.py)
    customer_attachments: bool = True  # False: the org refuses every customer attachment


class RepSettings:
    """The scripted rep's switches (POST /_sim/config's `rep`)."""

    name: str = "Alex (sim rep)"
    auto_accept: bool = True
    accept_delay: float = 0.2  # seconds between create and AgentAccepted: a rep is never instant
    auto_reply: bool = True
    greeting: str = "Hi, this is Alex from support. I have read your conversation so far."
    pascal_case: bool = False
    events_as_messages: bool = True
    token_header: str = "Authorization"  # noqa: S105 - a header name
    token_kind: str = "valid"  # noqa: S105 - a TokenMinter kind
    duplicate_every: int | None = None  # redeliver every Nth activity once more, as after a lost 200


CONFIG_FIELDS = (*Settings.__annotations__, "token_lifetime")
REP_FIELDS = (*RepSettings.__annotations__, "include_ids")


def _config(sim: Any) -> dict[str, Any]:
    config = {n: getattr(sim, n) for n in sorted(CONFIG_FIELDS)}
    return {**config, "rep": {n: getattr(sim.rep, n) for n in sorted(REP_FIELDS)}}


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
