"""The simulator's Dynamics side: a scripted rep whose activities reach the bridge's webhook, signed as
the tenant signs them (`TokenMinter`: `mint("valid")` is what a real delivery carries; every other kind
is a token the bridge must refuse).

Delivery follows Microsoft's `api/api-conversation-webhook.md`: `POST
{webhook_url}/v3/conversations/{conversationId}/activities`, `Authorization: Bearer <token>`, a
10-second timeout per attempt and three attempts ("retries up to three times ... After three failed
attempts, no further retries are made": read as three attempts in all; `attempts` changes it),
anything but 200 counting as a failure. Activities of one conversation are delivered one at a time,
in order; conversations are delivered in parallel. Shapes are the page's samples: no `id`, no
`timestamp` (`sim.activity_ids` adds both), events as `type: "message"` with a `name` and
`EventName: **_X_**` text and no `from`, typing with a `recipient`. `sim.drop_webhook` (or
`say(..., drop=True)`) loses a rep message's delivery entirely while the conversation keeps it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devtools.messaging_sim.admin import RepSettings
from devtools.messaging_sim.store import camel, iso_from_ms

# messaging_sim.simulator.MessagingSimulator: that module imports this one, so it is not imported here.
MessagingSimulator = Any

OTHER_APP_ID = "0d5a2d57-0000-4000-8000-0000000000aa"  # what "other_app" tokens name


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class TokenMinter:
    """Signs tokens for one tenant, app and audience; serves its public keys as a JWKS document."""

    def __init__(self, tenant_id: str, audience: str, app_id: str, lifetime: float = 3600.0) -> None:
        self.tenant_id = tenant_id
        self.audience = audience
        self.app_id = app_id
        self.lifetime = lifetime
        self._other_key: rsa.RSAPrivateKey | None = None
        self.rotate()

    @property
    def issuer(self) -> str:
        return f"https://login.microsoftonline.com/{self.tenant_id}/v2.0"

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256", "kty": "RSA"}]}

    def rotate(self) -> None:
        """A new key and kid: tokens signed before are refused once the bridge refetches the JWKS."""
        self._key = _new_key()
        self.kid = secrets.token_hex(8)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        return {
            "aud": self.audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + int(self.lifetime),
            "appid": self.app_id,
            "azp": self.app_id,
            "tid": self.tenant_id,
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim/{self.app_id}")),
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim/oid/{self.app_id}")),
            "ver": "2.0",
            **overrides,
        }

    def sign(self, claims: dict[str, Any], key: rsa.RSAPrivateKey | None = None, kid: str = "") -> str:
        return jwt.encode(claims, key or self._key, algorithm="RS256", headers={"kid": kid or self.kid})

    def mint(self, kind: str = "valid", **overrides: Any) -> str:
        """A token of `kind` (only `valid` and `v1_issuer` are good ones); `overrides` replace claims."""
        now = int(time.time())
        special: dict[str, dict[str, Any]] = {
            "valid": {},
            "forged": {},  # another key, same kid
            "unknown_kid": {},  # another key and a kid the JWKS lacks
            "expired": {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
            "not_yet_valid": {"nbf": now + 3600, "exp": now + 7200},
            "wrong_audience": {"aud": "api://someone-else"},
            "wrong_issuer": {"iss": "https://login.microsoftonline.com/another-tenant/v2.0"},
            "wrong_tenant": {"tid": "another-tenant"},  # the right issuer string, another tid claim
            "unsigned": {},  # alg none
            "hs256_public_key": {},  # HS256 keyed with the public key's PEM (algorithm confusion)
            "v1_issuer": {"iss": f"https://sts.windows.net/{self.tenant_id}/", "ver": "1.0"},  # valid
            "other_app": {"appid": OTHER_APP_ID, "azp": OTHER_APP_ID},  # another app of the tenant
            "no_app": {},  # signed, right issuer and audience, no appid/azp at all
        }
        if kind not in special:
            raise ValueError(f"token kind must be one of {sorted(special)}")
        claims = self.claims(**{**special[kind], **overrides})
        if kind == "no_app":
            del claims["appid"], claims["azp"]
        if kind in ("forged", "unknown_kid"):
            self._other_key = self._other_key or _new_key()
            return self.sign(claims, self._other_key, self.kid if kind == "forged" else "not-" + self.kid)
        if kind in ("unsigned", "hs256_public_key"):
            return self._by_hand(claims, "none" if kind == "unsigned" else "HS256")
        return self.sign(claims)

    def _by_hand(self, claims: dict[str, Any], alg: str) -> str:
        """PyJWT (rightly) signs with neither `none` nor an asymmetric key as an HMAC secret: the HS256
        one is keyed with the public key's PEM (algorithm confusion)."""
        header = {"alg": alg, "typ": "JWT", "kid": self.kid}
        signed = ".".join(_b64(json.dumps(part).encode()) for part in (header, claims))
        if alg == "none":
            return signed + "."
        pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"{signed}.{_b64(hmac.new(pem, signed.encode(), hashlib.sha256).digest())}"


@dataclass
class Delivery:
    """One activity on its way to the webhook, and what happened to each attempt."""

    index: int
    conversation_id: str
    activity: dict[str, Any]
    body: bytes
    statuses: list[int] = field(default_factory=list)  # 0: no answer (timeout, refused)
    delivered: bool = False
    done: bool = False
    redelivery_of: int | None = None
    dropped: bool = False  # never sent: the webhook delivery was lost on purpose
    not_before: float = 0.0  # monotonic time before which it is not sent (a rep takes a moment)

    def as_dict(self) -> dict[str, Any]:
        return camel({k: v for k, v in asdict(self).items() if k not in ("body", "not_before")})


def _pascal(value: Any) -> Any:
    """PascalCase keys, as the removed custom-events page showed (`Type`, `Conversation.Id`)."""
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _pascal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_pascal(item) for item in value]
    return value


class ScriptedRep(RepSettings):
    """What a rep does, and the delivery machinery that carries it to the webhook."""

    def __init__(self, sim: MessagingSimulator) -> None:
        self.sim = sim
        self.rep_id = "8c1c9a55-0000-4000-8000-00000000a1e5"
        self.reply: Callable[[str, int], str] = "Thanks, noted ({1}). Let me check that for you.".format
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._queues: dict[str, queue.Queue[Delivery]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._replies: dict[str, int] = {}
        self._posted = 0
        self._session = requests.Session()

    @property
    def include_ids(self) -> bool:
        """The simulator's `activity_ids`, under the rep's old name (docs/messaging.md)."""
        return bool(self.sim.activity_ids)

    @include_ids.setter
    def include_ids(self, value: bool) -> None:
        self.sim.activity_ids = value

    def on_customer_message(self, conversation_id: str, text: str) -> None:
        if self.auto_reply:
            with self._lock:
                count = self._replies[conversation_id] = self._replies.get(conversation_id, 0) + 1
            self.say(conversation_id, self.reply(text, count))

    def accept(self, conversation_id: str, delay: float | None = None) -> None:
        """`AgentAccepted`, then the greeting (the webhook page's first and third samples)."""
        self.event(conversation_id, "AgentAccepted", delay=self.accept_delay if delay is None else delay)
        if self.greeting:
            self.say(conversation_id, self.greeting)

    def say(
        self, conversation_id: str, text: str | None, attachments: Any = None, *, drop: bool = False
    ) -> int:
        """A rep message (see post). Saying a text twice sends two identical bodies: without ids, only the
        bridge's judgement tells them from a redelivery."""
        activity: dict[str, Any] = {
            "type": "message",
            "channelId": self.sim.channel_id,
            "from": {"id": self.rep_id, "name": self.name},
            "conversation": {"id": conversation_id},
            "textFormat": "markdown",
        }
        if text is not None:
            activity["text"] = text
        if attachments:
            activity["attachments"] = attachments
        return self.post(conversation_id, activity, drop=drop)

    def send_file(
        self,
        conversation_id: str,
        data: bytes,
        content_type: str,
        name: str,
        *,
        text: str | None = None,
        open_url: bool = False,
        drop: bool = False,
        **behaviour: Any,
    ) -> tuple[int, str]:
        """The webhook page's "Agent/Representative send attachment" sample, the file on `sim.files` behind
        a Messaging API token unless `open_url` (undocumented: the token is the hardest plausible reading).
        `behaviour`: the file host's (redirect_to, lie_length, ...). Returns (delivery index, file URL)."""
        url = self.sim.files.put(data, content_type, name, needs_token=not open_url, **behaviour)
        attachment = {"contentType": content_type, "contentUrl": url, "content": None, "name": name}
        return self.say(conversation_id, text, [{**attachment, "thumbnailUrl": None}], drop=drop), url

    def typing(self, conversation_id: str) -> int:
        conversation = self.sim.store.get(conversation_id)
        activity = {
            "type": "typing",
            "channelId": "MessagingApi",
            "conversation": {"id": conversation_id},
            "recipient": {"id": (conversation.customer_id if conversation else None) or conversation_id},
        }
        return self.post(conversation_id, activity)

    def event(self, conversation_id: str, name: str, delay: float = 0.0) -> int:
        activity = {
            "type": "message" if self.events_as_messages else "event",
            "channelId": self.sim.channel_id,
            "conversation": {"id": conversation_id},
            "text": f"EventName: **_{name}_**",
            "name": name,
        }
        return self.post(conversation_id, activity, delay=delay)

    def end(self, conversation_id: str, event: str = "AgentEndSession") -> int:
        """The rep (or, with another event name, a supervisor) ends it: closed here, then announced."""
        self.sim.store.close(conversation_id, by=event)
        return self.event(conversation_id, event)

    def post(
        self, conversation_id: str, activity: dict[str, Any], delay: float = 0.0, drop: bool = False
    ) -> int:
        """Queue one activity for delivery; returns its delivery index. A rep message (a message, not an
        event) is kept by the conversation, and may be lost on the webhook (`drop`, `sim.drop_webhook`)."""
        store = activity["type"] == "message" and "name" not in activity
        conversation = self.sim.store.get(conversation_id)
        message_id = self.sim.store.next_message_id()
        if self.sim.activity_ids:
            activity = {"id": message_id, **activity, "timestamp": iso_from_ms(int(message_id))}
        if store and conversation is not None:
            self.sim.store.add_message(conversation, "rep", activity, message_id)
        body = json.dumps(_pascal(activity) if self.pascal_case else activity).encode()
        with self._lock:
            if store and self.sim.drop_webhook > 0 and not drop:
                self.sim.drop_webhook -= 1
                drop = True
            delivery = self._new_delivery(conversation_id, activity, body)
            delivery.not_before = time.monotonic() + delay
            delivery.dropped = delivery.done = store and drop
            self._posted += not delivery.dropped
            posted = self._posted
        if not delivery.dropped:
            self._enqueue(delivery)
            if self.duplicate_every and posted % self.duplicate_every == 0:
                self.redeliver(delivery.index)
        return delivery.index

    def redeliver(self, index: int) -> int:
        """Send an earlier activity again, byte for byte, as Microsoft does after a lost answer."""
        with self._lock:
            original = self._deliveries[index]
            copy = self._new_delivery(original.conversation_id, original.activity, original.body)
            copy.redelivery_of = index
        self._enqueue(copy)
        return copy.index

    def _new_delivery(self, conversation_id: str, activity: dict[str, Any], body: bytes) -> Delivery:
        """Under the lock."""
        self._deliveries.append(Delivery(len(self._deliveries), conversation_id, activity, body))
        return self._deliveries[-1]

    def _enqueue(self, delivery: Delivery) -> None:
        """One worker per conversation drains its queue in order, then leaves."""
        conversation_id = delivery.conversation_id
        with self._lock:
            self._queues.setdefault(conversation_id, queue.Queue()).put(delivery)
            worker = self._workers.get(conversation_id)
            if worker is None or not worker.is_alive():
                worker = self._workers[conversation_id] = threading.Thread(
                    target=self._drain, args=(conversation_id,), name="messaging-sim-rep", daemon=True
                )
                worker.start()

    def _drain(self, conversation_id: str) -> None:
        pending = self._queues[conversation_id]
        while True:
            with self._lock:
                if pending.empty():
                    self._workers.pop(conversation_id, None)
                    return
                delivery = pending.get_nowait()
            self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> None:
        """Up to `sim.webhook_attempts` POSTs, until a 200 (status 0: no answer, or no webhook at all)."""
        time.sleep(max(0.0, delivery.not_before - time.monotonic()))
        url = self.sim.webhook_url
        path = f"/v3/conversations/{quote(delivery.conversation_id, safe='')}/activities"
        target = (url or "").rstrip("/") + path
        for attempt in range(max(1, self.sim.webhook_attempts) if url else 1):
            if attempt:
                time.sleep(self.sim.webhook_retry_pause)
            status = 0
            if url:
                token = self.sim.minter.mint(self.token_kind)
                headers = {"Content-Type": "application/json", self.token_header: f"Bearer {token}"}
                with contextlib.suppress(requests.RequestException):
                    status = self._session.post(
                        target, data=delivery.body, headers=headers, timeout=self.sim.webhook_timeout
                    ).status_code
            with self._lock:
                delivery.statuses.append(status)
                delivery.delivered = status == 200
            if delivery.delivered:
                break
        with self._lock:
            delivery.done = True

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def wait_delivered(self, timeout: float = 10.0) -> bool:
        """Wait until every queued activity is done (delivered or given up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(d.done for d in self._deliveries):
                    return True
            time.sleep(0.01)
        return False

    def reset(self) -> None:
        with self._lock:
            self._deliveries.clear()
            self._replies.clear()
            self._posted = 0
