"""The simulator's Dynamics side: a scripted rep whose activities reach the bridge's webhook.

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

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from devtools.messaging_sim.store import camel, iso_from_ms

# messaging_sim.simulator.MessagingSimulator: that module imports this one, so it is not imported here.
MessagingSimulator = Any


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


class ScriptedRep:
    """What a rep does, and the delivery machinery that carries it to the webhook."""

    def __init__(self, sim: MessagingSimulator) -> None:
        self.sim = sim
        self.name = "Alex (sim rep)"
        self.rep_id = "8c1c9a55-0000-4000-8000-00000000a1e5"
        self.auto_accept = True
        self.accept_delay = 0.2  # seconds between create and AgentAccepted: a rep is never instant
        self.auto_reply = True
        self.greeting = "Hi, this is Alex from support. I have read your conversation so far."
        self.reply: Callable[[str, int], str] = lambda _, n: (
            f"Thanks, noted ({n}). Let me check that for you."
        )
        self.pascal_case = False
        self.events_as_messages = True
        self.token_header = "Authorization"  # noqa: S105 - a header name
        self.token_kind = "valid"  # noqa: S105 - a TokenMinter kind
        self.duplicate_every: int | None = None  # redeliver every Nth activity once more, as after a lost 200
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
        """A rep message: kept by the conversation (GET .../messages lists it), then delivered unless
        `drop` (or `sim.drop_webhook`). Saying a text twice sends two identical bodies: without ids,
        only the bridge's judgement tells them from a redelivery."""
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
        """The webhook page's "Agent/Representative send attachment" sample (with `text` when given),
        the file on `sim.files` behind a Messaging API bearer token unless `open_url` (undocumented:
        the token is the hardest plausible reading). `behaviour` is the file host's (redirect_to,
        lie_length, ...). Returns (delivery index, the file's URL)."""
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
        target = f"{(url or '').rstrip('/')}/v3/conversations/{quote(delivery.conversation_id, safe='')}/activities"
        for attempt in range(max(1, self.sim.webhook_attempts) if url else 1):
            if attempt:
                time.sleep(self.sim.webhook_retry_pause)
            status = 0
            if url:
                token = self.sim.minter.mint(self.token_kind)
                headers = {"Content-Type": "application/json", self.token_header: f"Bearer {token}"}
                with contextlib.suppress(requests.RequestException):
                    timeout = self.sim.webhook_timeout
                    status = self._session.post(
                        target, data=delivery.body, headers=headers, timeout=timeout
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
