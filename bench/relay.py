"""Rep -> customer relay latency: the rep's activity POSTed to our webhook -> the message recorded by
the OpenCX simulator (OpenCX's own time is zero here, so the figure is the bridge's alone).

Runs the local stack in mode messaging (the runner is a subprocess, Azurite and the simulators are
real loopback servers). Scenarios, each on fresh conversations:
- idle: one message at a time, random gaps, one conversation;
- load: 10 conversations (OpenCX's rate limit lifted unless --opencx-rate-limit), each rep sending back to back (Microsoft delivers a conversation's
  activities one at a time), all conversations at once;
- burst: 10 activities for ONE conversation posted at once, 10 rounds: how long the webhook takes to
  answer each (Microsoft gives up on an answer after 10 s; the goal is p99 under 2 s), and that
  every one reaches the customer once;
- queue_only: the idle scenario with the fast path off (MESSAGING_RELAY_FAST_PATH=false), the
  same-run baseline that shows what the queue poll alone costs;
- floor: a bare OpenCX send from here, and an ignored (typing) activity through the webhook, the
  HTTP + token-validation floor under every relayed message.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.report import print_table, summary, write_results
from devtools.azurite import PROJECT_ROOT
from devtools.stack import Stack


class Arrivals:
    """Notes when each text first appears among the OpenCX simulator's sent messages."""

    def __init__(self, opencx: object) -> None:
        self.opencx = opencx
        self.seen: dict[str, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        count = 0
        while not self.stopping.is_set():
            sent = self.opencx.sent_messages  # type: ignore[attr-defined]
            now = time.perf_counter()
            for message in sent[count:]:
                self.seen.setdefault(message.text or "", now)
            count = len(sent)
            time.sleep(0.001)

    def wait(self, text: str, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} never reached OpenCX")
            time.sleep(0.001)
        return self.seen[text]


def _host_json(folder: Path) -> Path:
    config = json.loads((PROJECT_ROOT / "host.json").read_text())
    path = folder / "host.json"
    path.write_text(json.dumps(config))
    return path


def _conversations(stack: Stack, count: int) -> list[str]:
    from devtools.send_handoff import send

    parts = stack.messaging_parts
    msim, opencx = parts.messaging, parts.opencx
    before = len(msim.conversations)
    for _ in range(count):
        session = opencx.add_session(channel="sms", name="Bench Customer", phone_number="+15555550123")
        session_id = session if isinstance(session, str) else session["id"]
        body = json.dumps(opencx.handoff_event(session_id)).encode()
        status, _ = send(body, stack.webhook_url, stack.function_key, stack.webhook_secret)
        assert status == 202, status
    deadline = time.monotonic() + 60
    while len(msim.conversations) < before + count and time.monotonic() < deadline:
        time.sleep(0.05)
    ids = [c["conversationId"] for c in msim.conversations[before:]]
    time.sleep(3)  # the mapping rows are written right after create; let the worker finish
    return ids


def _post(stack: Stack, session: requests.Session, conversation_id: str, text: str, token: str) -> int:
    activity = {"id": uuid.uuid4().hex, "type": "message", "channelId": "MessagingApi",
                "from": {"id": "rep", "name": "Bench Rep"}, "conversation": {"id": conversation_id}, "text": text}  # fmt: skip
    url = f"{stack.base_url}/api/messaging/v3/conversations/{conversation_id}/activities"
    answer = session.post(url, json=activity, headers={"Authorization": f"Bearer {token}"}, timeout=15)
    return answer.status_code


def _sequential(
    stack: Stack, arrivals: Arrivals, conversation_id: str, count: int, label: str
) -> list[float]:
    minter = stack.messaging_parts.messaging.minter
    http = requests.Session()
    latencies = []
    for n in range(count):
        time.sleep(random.uniform(0.05, 0.3))
        text = f"{label} {n} {uuid.uuid4().hex[:6]}"
        token = minter.mint("valid")
        started = time.perf_counter()
        assert _post(stack, http, conversation_id, text, token) == 200
        latencies.append((arrivals.wait(text) - started) * 1000)
    return latencies


def _load(
    stack: Stack, arrivals: Arrivals, conversations: list[str], per_conversation: int
) -> tuple[list[float], float]:
    minter = stack.messaging_parts.messaging.minter

    def one(conversation_id: str) -> list[tuple[str, float]]:
        http = requests.Session()
        sent = []
        for n in range(per_conversation):
            text = f"load {conversation_id[:8]} {n}"
            token = minter.mint("valid")
            started = time.perf_counter()
            assert _post(stack, http, conversation_id, text, token) == 200
            sent.append((text, started))
        return sent

    began = time.perf_counter()
    with ThreadPoolExecutor(len(conversations)) as pool:
        batches = list(pool.map(one, conversations))
    latencies = [(arrivals.wait(text, 120) - started) * 1000 for batch in batches for text, started in batch]
    elapsed = time.perf_counter() - began
    return latencies, len(latencies) / elapsed


def _burst(
    stack: Stack, arrivals: Arrivals, conversation_id: str, rounds: int, width: int
) -> tuple[list[float], bool]:
    """Answer times of `width` concurrent posts for one conversation, `rounds` times; and whether
    every text reached OpenCX exactly once."""
    minter = stack.messaging_parts.messaging.minter
    answers: list[float] = []
    texts: list[str] = []

    def post(text: str) -> float:
        http = requests.Session()
        token = minter.mint("valid")
        started = time.perf_counter()
        assert _post(stack, http, conversation_id, text, token) == 200
        return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(width) as pool:
        for round_number in range(rounds):
            batch = [f"burst {round_number} {n} {uuid.uuid4().hex[:6]}" for n in range(width)]
            texts += batch
            answers += list(pool.map(post, batch))
    for text in texts:
        arrivals.wait(text, 120)
    session = stack.messaging_parts.messaging.conversation(conversation_id)["customerId"]
    sent = [
        m.text for m in stack.messaging_parts.opencx.sent_to(session) if (m.text or "").startswith("burst ")
    ]
    return answers, sorted(sent) == sorted(texts)


def _in_order(stack: Stack, conversations: list[str]) -> bool:
    from devtools.opencx_sim import OpenCXSimulator

    opencx: OpenCXSimulator = stack.messaging_parts.opencx
    for conversation_id in conversations:
        session = stack.messaging_parts.messaging.conversation(conversation_id)["customerId"]
        texts = [m.text for m in opencx.sent_to(session) if m.text and m.text.startswith("load ")]
        if texts != sorted(texts, key=lambda t: int(t.rsplit(" ", 1)[1])) or len(texts) != len(set(texts)):
            return False
    return True


def _floor(stack: Stack, conversation_id: str, count: int) -> tuple[list[float], list[float]]:
    parts = stack.messaging_parts
    opencx, minter = parts.opencx, parts.messaging.minter
    http = requests.Session()
    session_id = parts.messaging.conversation(conversation_id)["customerId"]
    send_ms, ignored_ms = [], []
    for n in range(count):
        started = time.perf_counter()
        http.post(f"{opencx.url}/chat/sessions/{session_id}/send", timeout=10,
                  headers={"Authorization": f"Bearer {opencx.api_key}"},
                  json={"sender": "agent", "message": {"type": "text", "text": f"floor {n}"}})  # fmt: skip
        send_ms.append((time.perf_counter() - started) * 1000)
        token = minter.mint("valid")
        url = f"{stack.base_url}/api/messaging/v3/conversations/{conversation_id}/activities"
        started = time.perf_counter()
        http.post(url, json={"type": "typing"}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        ignored_ms.append((time.perf_counter() - started) * 1000)
    return send_ms, ignored_ms


def _stack(folder: Path, fast_path: bool, opencx_rate_limit: bool = False) -> Stack:
    settings = {} if fast_path else {"MESSAGING_RELAY_FAST_PATH": "false"}
    stack = Stack(
        messaging=True, runner_log=folder / "runner.log", host_json=_host_json(folder), settings=settings
    )
    stack.start()
    msim = stack.messaging_parts.messaging
    msim.rep.auto_accept = False
    msim.rep.auto_reply = False
    if not opencx_rate_limit:  # the bridge's own figure; OpenCX's ~100 requests/min is reported apart
        stack.messaging_parts.opencx.rate_limit = None
    return stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.split("\n")[0])
    parser.add_argument("--idle", type=int, default=40, help="messages in the idle scenario")
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--per-conversation", type=int, default=20)
    parser.add_argument("--opencx-rate-limit", action="store_true", help="keep OpenCX's ~100 requests/min")
    parser.add_argument(
        "--burst-rounds", type=int, default=10, help="rounds of concurrent posts to one conversation"
    )
    parser.add_argument("--burst-width", type=int, default=10, help="concurrent posts per round")
    args = parser.parse_args(argv)
    import tempfile

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stack = _stack(folder, fast_path=True, opencx_rate_limit=args.opencx_rate_limit)
        try:
            arrivals = Arrivals(stack.messaging_parts.opencx)
            conversations = _conversations(stack, args.conversations + 2)
            burst_conversation = conversations.pop()
            _sequential(stack, arrivals, conversations[0], 5, "warmup")
            idle = _sequential(stack, arrivals, conversations[0], args.idle, "idle")
            load, rate = _load(stack, arrivals, conversations[1:], args.per_conversation)
            ordered = _in_order(stack, conversations[1:])
            burst, burst_once = _burst(
                stack, arrivals, burst_conversation, args.burst_rounds, args.burst_width
            )
            send_ms, ignored_ms = _floor(stack, conversations[0], 30)
            arrivals.stopping.set()
        finally:
            stack.stop()
        stack = _stack(folder, fast_path=False)
        try:
            arrivals = Arrivals(stack.messaging_parts.opencx)
            conversation = _conversations(stack, 1)[0]
            queue_only = _sequential(stack, arrivals, conversation, max(10, args.idle // 2), "queued")
            arrivals.stopping.set()
        finally:
            stack.stop()
    figures = {
        "idle_ms": summary(idle),
        "load_ms": summary(load),
        "load_messages_per_second": rate,
        "load_in_order_once_each": ordered,
        "burst_answer_ms": summary(burst),
        "burst_answer_p99_ms": sorted(burst)[max(0, int(len(burst) * 0.99) - 1)],
        "burst_once_each": burst_once,
        "queue_only_idle_ms": summary(queue_only),
        "floor_opencx_send_ms": summary(send_ms),
        "floor_ignored_activity_ms": summary(ignored_ms),
    }
    rows = [
        (name, f"p50 {figures[key]['p50']:7.1f}  p95 {figures[key]['p95']:7.1f}  n={figures[key]['n']}")
        for name, key in (
            ("idle (fast path)", "idle_ms"),
            (f"load ({args.conversations} conversations)", "load_ms"),
            ("idle, queue only (baseline)", "queue_only_idle_ms"),
            ("floor: bare OpenCX send", "floor_opencx_send_ms"),
            ("floor: ignored activity via webhook", "floor_ignored_activity_ms"),
        )
    ]
    rows.append(("load throughput", f"{rate:.1f} messages/s, in order once each: {ordered}"))
    rows.append(
        (
            f"burst: webhook answer, {args.burst_width} at once on one conversation",
            f"p50 {figures['burst_answer_ms']['p50']:7.1f}  p95 {figures['burst_answer_ms']['p95']:7.1f}  "
            f"p99 {figures['burst_answer_p99_ms']:7.1f}  n={len(burst)}, once each: {burst_once}",
        )
    )
    rows.append(
        (
            "idle p95 / queue-only p95",
            f"{figures['idle_ms']['p95'] / figures['queue_only_idle_ms']['p95']:.2f}",
        )
    )
    print_table("Rep -> customer relay latency, ms (webhook in -> OpenCX send recorded)", rows)
    print(f"\nresults: {write_results('relay', figures)}")
    return 0 if ordered and burst_once else 1


if __name__ == "__main__":
    raise SystemExit(main())
