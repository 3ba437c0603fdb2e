"""MessagingSimulator: the Omnichannel Messaging API and its Dynamics side, on loopback.

What it checks follows Microsoft's `contact-center/extend/` pages: `intro-messaging-apis.md`
(bearer token, `channel-id`, `organization-id`; 401 without them), `api/api-conversation-create.md`
(`customerid` idempotency, `{conversationId, isNew, messageId}`), `api/api-conversation-endpoint.md`
(message / typing / endOfConversation / event), `error-handling.md` (statuses, 300xx codes,
`x-ms-correlation-id`, `Retry-After`) and `api/api-conversation-webhook.md` (the rep side, see rep.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from devtools.messaging_sim.admin import ROUTES, Settings
from devtools.messaging_sim.faults import FaultRule
from devtools.messaging_sim.rep import ScriptedRep, TokenMinter
from devtools.messaging_sim.server import API_PREFIX, JWKS_SUFFIX, MessagingHandler
from devtools.messaging_sim.store import (
    DEFAULT_BLOCKED_EXTENSIONS,
    SILENT_END_REASONS,
    ApiError,
    ReceivedAttachment,
    Store,
    bad,
    check_activity,
)
from devtools.simkit import admin
from devtools.simkit.files import FileHost
from devtools.simkit.identity import Identity, ServesIdentity
from devtools.simkit.lifecycle import Simulator
from devtools.simkit.server import LoopbackServer, json_reply


class RequestRecord(NamedTuple):
    """One Messaging API call as the simulator saw it. `status` 0: dropped before an answer."""

    method: str
    path: str
    status: int
    operation: str
    duration_ms: float
    fault: str | None
    headers: dict[str, str]
    body: Any


def _guid(text: str | None) -> str | None:
    try:
        return str(uuid.UUID(str(text)))
    except (ValueError, TypeError):
        return None


class MessagingSimulator(Simulator[RequestRecord, FaultRule], ServesIdentity, Settings):
    """A loopback Messaging API, its identity endpoint and JWKS, and a scripted rep (lifecycle: simkit's)."""

    thread_name = "messaging-sim"
    record_type = RequestRecord
    redacted_headers = frozenset({"authorization", "x-identity-header"})
    files: FileHost

    def __init__(
        self,
        *,
        tenant_id: str = "72f988bf-0000-4000-8000-00000000d365",
        app_id: str = "9f6c021d-1234-4abc-8df7-123456789abc",
        audience: str | None = None,
        channel_id: str | None = None,
        organization_id: str | None = None,
        zone: str = "crm",
        token_lifetime: float = 3600.0,
        upstream_identity: tuple[str, str] | None = None,
        seed: int = 0,
        port: int | None = None,
        blocked_extensions: frozenset[str] = DEFAULT_BLOCKED_EXTENSIONS,
        clock: Callable[[], float] | None = None,
        **settings: Any,
    ) -> None:
        """`settings`: any of Settings' (admin.py), checked as POST /_sim/config checks them."""
        super().__init__(port=port, seed=seed)
        self.tenant_id = tenant_id
        self.app_id = app_id
        self.audience = audience or f"api://{app_id}"
        self.channel_id = channel_id or str(uuid.uuid4())
        self.organization_id = organization_id or str(uuid.uuid4())
        self.token_resource = f"https://{self.organization_id.replace('-', '')}-c.{zone}.dynamics.com"
        self.identity = Identity(
            token_lifetime, client_id="22222222-2222-2222-2222-222222222222", upstream=upstream_identity
        )
        admin.configure(self, settings, Settings.__annotations__)
        self.blocked_extensions = frozenset(e.lower().lstrip(".") for e in blocked_extensions)  # store.py
        self.files = FileHost(lambda: self.url, self.identity.valid)  # the rep's files: API tokens
        self._received: list[ReceivedAttachment] = []
        self.store = Store(clock or time.time)
        self.minter = TokenMinter(tenant_id, self.audience, app_id)
        self.rep = ScriptedRep(self)
        self.jwks_requests = 0  # counted by the handler, under self.lock

    def make_server(self, address: tuple[str, int]) -> LoopbackServer:
        return LoopbackServer(address, self, MessagingHandler)

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/{self.tenant_id}{JWKS_SUFFIX}"

    @property
    def token_scope(self) -> str:
        return f"{self.token_resource}/.default"

    def env(self) -> dict[str, str]:
        """The bridge's settings for this simulator; other resources' tokens come from `upstream_identity`."""
        return {
            "MESSAGING_API_URL": self.url,
            "MESSAGING_CHANNEL_ID": self.channel_id,
            "MESSAGING_ORGANIZATION_ID": self.organization_id,
            "MESSAGING_TOKEN_SCOPE": self.token_scope,
            "MESSAGING_TENANT_ID": self.tenant_id,
            "MESSAGING_WEBHOOK_AUDIENCE": self.audience,
            "MESSAGING_WEBHOOK_APP_ID": self.app_id,
            "MESSAGING_JWKS_URL": self.jwks_url,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
        }

    def issue_token(self, scope: str | None = None) -> tuple[str, int]:
        """A bearer token the API accepts (what the identity endpoint hands out)."""
        if scope is not None and scope.rstrip("/") not in (self.token_scope, self.token_resource):
            raise ValueError(f"scope must be {self.token_scope}")
        return self.identity.issue()

    def trust_token(self, token: str, lifetime: float | None = None) -> None:
        """Accept a token minted elsewhere (a test's own credential)."""
        self.identity.trust(token, lifetime)

    def check_request(
        self, authorization: str | None, channel_id: str | None, organization_id: str | None
    ) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, None, "The bearer token is missing.")
        if not self.identity.valid(authorization):
            raise ApiError(401, None, "The token is expired or invalid.")
        if not channel_id or not organization_id:
            raise ApiError(401, None, "The channel-id and organization-id headers are required.")
        organization, channel = _guid(organization_id), _guid(channel_id)
        if organization is None:
            raise bad("The provided organization ID isn't valid.", 30001)
        if channel is None:
            raise bad("The provided channel ID isn't valid.", 30002)
        if (organization, channel) != (_guid(self.organization_id), _guid(self.channel_id)):
            raise ApiError(401, None, "The channel ID isn't authorized for the organization.")
        if not self.channel_configured:
            raise ApiError(404, 30004, "The specified channel configuration doesn't exist.")

    def route(self, operation: str, rest: str, query: dict[str, str], payload: Any) -> Any:
        conversation_id = rest.split("/")[1] if "/" in rest else ""
        if operation == "create":
            return self.create(payload)
        if operation in ("send", "end"):
            return self.send(conversation_id, payload)
        if operation == "list":
            return self.list_conversations(query)
        if operation == "messages":
            found = self.store.active(conversation_id, self.closed_messages_readable_seconds)
            return json_reply(200, self.store.messages_page(found, query, self.messages_from_author))
        if operation == "context":
            entries = self.store.active(conversation_id).context.items()
            return json_reply(200, {"context": [{"name": k, "value": v.get("value")} for k, v in entries]})
        raise ApiError(404, None, f"No such operation: {rest}")

    def create(self, payload: Any) -> Any:
        if not self.workstream_linked:
            raise bad("The specified channel configuration isn't linked to a workstream.", 30014)
        conversation, is_new = self.store.create(payload)
        answer: dict[str, Any] = {"conversationId": conversation.conversation_id, "isNew": is_new}
        if is_new and (start := conversation.start_message) is not None:
            activity = {"type": "message", "text": start.get("message") if isinstance(start, dict) else start}
            answer["messageId"] = self.store.add_message(conversation, "start", activity)
        if is_new and self.rep.auto_accept:
            self.rep.accept(conversation.conversation_id)
        return json_reply(self.create_status, answer)

    def send(self, conversation_id: str, payload: Any) -> Any:
        conversation = self.store.active(conversation_id)
        rules = self.customer_attachments, self.attachment_max_kb, self.blocked_extensions
        kind, attachments = check_activity(payload, self.channel_id, *rules)
        if kind == "endOfConversation":
            self.store.close(conversation.conversation_id, by="customer")
        if kind in ("endOfConversation", "typing"):
            return json_reply(200, {})
        message_id = self.store.add_message(conversation, "customer", payload)
        with self.lock:
            self._received += [
                ReceivedAttachment(conversation.conversation_id, message_id, **a) for a in attachments
            ]
        if kind == "message":
            self.rep.on_customer_message(conversation.conversation_id, str(payload.get("text") or ""))
        return json_reply(200, {"messageId": message_id, "message": None})

    def end_silently(self, conversation_id: str, reason: str = "timeout") -> None:
        """End a conversation as a timeout rule or the waiting state does: no webhook call at all
        (api-conversation-create.md names both ends; nothing says they are announced)."""
        if reason not in SILENT_END_REASONS:
            raise ValueError(f"reason must be one of {sorted(SILENT_END_REASONS)}")
        if not self.store.close(conversation_id, by=reason):
            raise KeyError(f"no active conversation {conversation_id}")

    def list_conversations(self, query: dict[str, str]) -> Any:
        size = query.get("PageSize")
        if size is not None and (not size.isdigit() or not 1 <= int(size) <= 250):
            raise bad("The page size for conversations must either be null or between 1 and 250.", 30007)
        active = [c for c in self.store.all() if c.active]
        items = [{"conversationid": c.conversation_id, "timestamp": c.created} for c in active]
        return json_reply(200, {"conversations": items[: int(size or 50)], "continuationtoken": None})

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        found = self.store.get(conversation_id)
        return found.summary() if found else None

    def received_attachments(self, conversation_id: str | None = None) -> list[ReceivedAttachment]:
        """Attachments the bridge sent, in order (what the rep would see), optionally of one conversation."""
        with self.lock:
            return [a for a in self._received if conversation_id in (None, a.conversation_id)]

    @property
    def conversations(self) -> list[dict[str, Any]]:
        return [c.summary() for c in self.store.all()]

    def stats(self) -> dict[str, Any]:
        """simkit's counts, and conversations, deliveries, attachments received and file requests."""
        deliveries, conversations = self.rep.deliveries, self.store.all()
        return {
            **super().stats(),
            "token_requests": self.identity.requests,
            "conversations": len(conversations),
            "active_conversations": sum(1 for c in conversations if c.active),
            "deliveries": len(deliveries),
            "delivered": sum(1 for d in deliveries if d.delivered),
            "delivery_attempts": sum(len(d.statuses) for d in deliveries),
            "attachments_received": len(self.received_attachments()),
            "file_gets": self.files.gets(),
        }

    def reset(self) -> None:
        """Empty conversations, faults, records and deliveries. Settings and issued tokens stay."""
        self.store.clear()
        self.rep.reset()
        self.files.clear()
        with self.lock:
            self.reset_records()
            self._received.clear()
        self.identity.forget_requests()

    def admin(self, method: str, name: str, data: Any, query: dict[str, str]) -> Any:
        return admin.route(ROUTES, self, method, name, data)


__all__ = ["API_PREFIX", "MessagingSimulator", "RequestRecord"]
