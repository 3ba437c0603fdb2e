"""`make demo-messaging`: mode `messaging` end to end on one screen (the steps are in run()), each step
printed with what a person would see; exits 1 if a step does not happen within 30 s."""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.demo import wait_until
from devtools.opencx_sim import SMS_SESSION_ID
from devtools.send_handoff import send
from devtools.stack import Stack
from shared.platform.masking import mask_phone

STEP_SECONDS = 30.0
CUSTOMER_REPLY = "Friday after 2pm works, thanks!"
PHOTO_CAPTION = "The box arrived crushed"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 160  # a 40 KB "JPEG"
LABEL = b"%PDF-1.4\n" + b"return label " * 800


class StepFailed(Exception):
    pass


def _wait(what: str, predicate: Callable[[], Any], started: float) -> float:
    """Milliseconds since `started` once `predicate` holds; StepFailed after STEP_SECONDS."""
    if not wait_until(predicate, STEP_SECONDS):
        raise StepFailed(f"{what}: not within {STEP_SECONDS:.0f} s")
    return (time.monotonic() - started) * 1000


def _say(step: str, text: str, ms: float | None = None) -> None:
    took = f"  ({ms:,.0f} ms)" if ms is not None else ""
    print(f"{step:<26}{text}{took}", flush=True)


def _short(text: str | None, limit: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _post(stack: Stack, event: Any) -> int:
    return send(json.dumps(event).encode(), stack.webhook_url, stack.function_key, stack.webhook_secret)[0]


def run(stack: Stack) -> None:
    msim, opencx = stack.messaging_parts.messaging, stack.messaging_parts.opencx
    started = time.monotonic()
    status = _post(stack, opencx.handoff_event(SMS_SESSION_ID))
    _say("1. SMS handoff", f"POST /api/handoffs -> {status}  (OpenCX session {SMS_SESSION_ID[:8]}…)")
    if status != 202:
        raise StepFailed(f"the handoff was answered {status}")

    ms = _wait("the conversation", lambda: msim.conversations, started)
    conversation = msim.conversations[0]
    conversation_id = conversation["conversationId"]
    customer = conversation["customer"]
    _say("2. Conversation created", f"Dynamics conversation {conversation_id}", ms)
    _say("", f"customer: {customer.get('preferredname', '?')}, {mask_phone(customer.get('phonenumber'))}, "
             f"customerid = the OpenCX session")  # fmt: skip
    _say("", f"context: {', '.join(list(conversation['context'])[:8])}")
    start = conversation["startMessage"] or {}
    _say("", f"start message: {_short(start.get('message') if isinstance(start, dict) else str(start))}")

    greeting = msim.rep.greeting or ""
    ms = _wait("the greeting", lambda: opencx.sent_to(SMS_SESSION_ID), started)
    sent = opencx.sent_to(SMS_SESSION_ID)[0]
    _say(
        "3. Rep -> customer", f"OpenCX session got [{sent.sender}: {sent.agent_name}] {_short(sent.text)}", ms
    )
    if sent.text != greeting:
        raise StepFailed("the first message at OpenCX is not the rep's greeting")

    reply_started = time.monotonic()
    status = _post(stack, opencx.customer_reply(SMS_SESSION_ID, CUSTOMER_REPLY))

    def at_rep() -> bool:
        found = msim.store.get(conversation_id)
        return found is not None and any(m.get("text") == CUSTOMER_REPLY for m in found.customer_messages())

    ms = _wait("the customer's reply at the rep", at_rep, reply_started)
    _say("4. Customer -> rep", f"contact_response -> {status}; the rep sees: {CUSTOMER_REPLY}", ms)
    ms = _wait("the rep's answer", lambda: len(opencx.sent_to(SMS_SESSION_ID)) >= 2, reply_started)
    _say("", f"the rep answers, OpenCX got: {_short(opencx.sent_to(SMS_SESSION_ID)[1].text)}", ms)

    _files_both_ways(msim, opencx, stack, conversation_id)

    end_started = time.monotonic()
    msim.rep.end(conversation_id)
    ms = _wait(
        "the OpenCX session closed",
        lambda: any(u.session_id == SMS_SESSION_ID and u.body.get("status") == "closed_resolved"
                    for u in opencx.updates),
        end_started,
    )  # fmt: skip
    _say("7. Rep ends it", "AgentEndSession -> OpenCX session PATCHed closed_resolved", ms)

    request = urllib.request.Request(  # noqa: S310 - our loopback URL
        f"{stack.base_url}/api/handoffs/{SMS_SESSION_ID}", headers={"x-functions-key": stack.function_key}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our loopback URL
        row = json.loads(answer.read())["handoffs"][0]
    counts = row.get("messaging") or {}
    files = counts.get("files") or {}
    _say("8. Status API", f"{row['status']}, dynamics365_chat_id={row['dynamics365_chat_id']}, "
         f"to customer {counts.get('messagesToCustomer')}, to rep {counts.get('messagesToRep')}, "
         f"files {files.get('toCustomer', 0)} out / {files.get('toRep', 0)} in, conversation {counts.get('state')}")  # fmt: skip


def _files_both_ways(msim: Any, opencx: Any, stack: Stack, conversation_id: str) -> None:
    """A photo from the customer's phone to the rep, and a PDF from the rep to the customer's thread."""
    started = time.monotonic()
    photo_file = ("damaged-box.jpg", "image/jpeg", PHOTO)
    status = _post(stack, opencx.customer_reply(SMS_SESSION_ID, PHOTO_CAPTION, files=[photo_file]))
    ms = _wait("the customer's photo at the rep", lambda: msim.received_attachments(conversation_id), started)
    photo = msim.received_attachments(conversation_id)[0]
    _say("5. Photo -> rep", f"contact_response -> {status}; the rep sees \"{PHOTO_CAPTION}\" with "
         f"{photo.name} ({photo.content_type}, {photo.size:,} bytes, embedded)", ms)  # fmt: skip

    started = time.monotonic()
    _, url = msim.rep.send_file(
        conversation_id, LABEL, "application/pdf", "return-label.pdf", text="Your return label"
    )

    def with_file() -> list[Any]:
        return [m for m in opencx.sent_to(SMS_SESSION_ID) if m.attachments]

    ms = _wait("the rep's PDF at the customer", with_file, started)
    [attachment] = with_file()[0].body["message"]["attachments"]
    how = "base64 (its URL needs the Messaging API token)" if "base64" in attachment else "url"
    got = f"OpenCX send got {attachment['name']} ({attachment['mime_type']}) as {how}"
    _say("6. File -> customer", got, ms)
    _say("", f"the file host saw {msim.files.file(url).statuses}: a plain try, then the bridge's token")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "runner.log"
        print(
            "Starting Azurite, the Dataverse, OpenCX and Messaging API simulators and the runner…", flush=True
        )
        stack = Stack(messaging=True, runner_log=log)
        try:
            stack.start()
            run(stack)
        except StepFailed as exc:
            print(f"FAILED: {exc}\n--- runner log (last 40 lines) ---", file=sys.stderr)
            print("\n".join(log.read_text().splitlines()[-40:]) if log.exists() else "", file=sys.stderr)
            return 1
        finally:
            stack.stop()
    print("The loop is closed: handoff, conversation, both ways, ended.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
