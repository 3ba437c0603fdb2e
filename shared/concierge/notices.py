"""Send one notice to the customer, once: a ledger claim (shared/concierge/ledger.py) before the
OpenCX send (`POST /chat/sessions/{id}/send`, shared/opencx/send.py) as the agent sender.

Marked as automated where OpenCX allows it: its send page documents no "automated" flag, so the
notice goes with `agent.name` = AUTOMATED_NAME (a documented field) and no invented one. The AI is
not told to stand down (`should_take_over_session_from_ai` false): a notice is not a person.

Write-back: the first message the bridge sends on a session carries `custom_data` (the Dynamics
ids), claimed once per session under WRITE_BACK_KEY, and given back when the send surely failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from shared.concierge import ledger
from shared.concierge.wording import compose
from shared.opencx.client import OpenCXClient, opencx_client
from shared.opencx.send import build_agent_message
from shared.platform import telemetry
from shared.platform.log import get_logger, log_event
from shared.platform.settings import Settings, get_settings
from shared.platform.status_store import StoreUnavailable

logger = get_logger("concierge")
AUTOMATED_NAME = "Automated message"
WRITE_BACK_KEY = "custom_data"
CustomData = Mapping[str, str | int | float | bool]


@dataclass(frozen=True)
class NoticeResult:
    """sent | already (an earlier delivery claimed it) | nothing_to_say (no template fits the values)
    | failed (OpenCX refused or did not answer) | ledger_unavailable (sent nothing, to stay once-only)."""

    outcome: str
    text: str | None = None
    status: int | None = None
    wrote_back: bool = False


def notice_key(owner_id: str, kind: str) -> str:
    """The once-only key: (handoffId or conversation id, notice kind)."""
    return f"{owner_id}:{kind}"


def _write_back(session_id: str, custom_data: CustomData | None) -> dict[str, object] | None:
    if not custom_data:
        return None
    try:
        if ledger.claim(session_id, WRITE_BACK_KEY, **{k: v for k, v in custom_data.items()}):
            return dict(custom_data)
    except StoreUnavailable:
        return None  # never twice: the write-back waits for a message when the ledger is back
    return None


def send_notice(
    session_id: str,
    template: str,
    values: Mapping[str, str | None],
    language: str | None,
    *,
    key: str,
    custom_data: CustomData | None = None,
    settings: Settings | None = None,
    opencx: OpenCXClient | None = None,
) -> NoticeResult:
    """Render `template` in the customer's language and send it once under `key`."""
    settings = settings or get_settings()
    text, chosen = compose(settings.concierge.templates, template, language, values)
    if text is None:
        return _done(template, NoticeResult("nothing_to_say"))
    try:
        if not ledger.claim(session_id, key, kind=template, language=chosen, text=text, state="claimed"):
            return _done(template, NoticeResult("already", text))
    except StoreUnavailable as exc:
        log_event(logger, "concierge.ledger_unavailable", logging.WARNING, error=str(exc))
        return _done(template, NoticeResult("ledger_unavailable", text))
    write_back = _write_back(session_id, custom_data)
    body = build_agent_message(text, AUTOMATED_NAME, settings.opencx_agent_sender, take_over_from_ai=False)
    if write_back:
        body["custom_data"] = write_back
    answer = (opencx or opencx_client()).send_message(session_id, body)
    result = NoticeResult("sent" if answer.ok else "failed", text, answer.status, bool(write_back))
    try:
        ledger.update(
            session_id, key, state=result.outcome, status=answer.status, wroteBack=result.wrote_back,
            sentAt=ledger.now_iso() if answer.ok else None,
        )  # fmt: skip
        if write_back and not answer.ok and answer.transport is not None and answer.transport.sent_nothing:
            ledger.release(session_id, WRITE_BACK_KEY)
    except StoreUnavailable as exc:
        log_event(logger, "concierge.ledger_unavailable", logging.WARNING, error=str(exc))
    return _done(template, result)


def _done(template: str, result: NoticeResult) -> NoticeResult:
    telemetry.count("concierge.notices", kind=template, outcome=result.outcome)
    log_event(
        logger, "concierge.notice", logging.INFO if result.outcome != "failed" else logging.WARNING,
        kind=template, outcome=result.outcome, status=result.status, chars=len(result.text or ""),
    )  # fmt: skip
    return result
