"""Step 3 (opt-in): which `sender` makes OpenCX deliver an agent's message to the customer?

OpenCX's send page says a message may be sent "as the contact or as an agent", but every example
sends `"sender": "contact"`; the agent's value is not shown (docs/messaging.md item 18). The
check sends one message, as the agent, into a session the admin names (their own phone), through
the relay's own body builder (shared/opencx/send.py) and client. A value OpenCX refuses (400/422)
is followed by the next candidate; the first accepted one is asked about ("did it arrive?").
Candidates, in order: OPENCX_AGENT_SENDER as set, then "agent", "human_agent", "human". "contact"
is never tried (the customer would see their own words) nor "ai" (a rep's words shown as the bot's).
"""

from __future__ import annotations

from collections.abc import Callable

from ops.golive import clients
from ops.golive.report import Outcome, Reporter, Verdict
from shared.opencx.send import build_agent_message
from shared.platform.settings import Settings

CANDIDATES = ("agent", "human_agent", "human")
REFUSED = (400, 422)


def candidates(configured: str, extra: tuple[str, ...] = ()) -> list[str]:
    return list(dict.fromkeys([configured, *extra, *CANDIDATES]))


def run(
    settings: Settings,
    run_id: str,
    session_id: str,
    report: Reporter,
    confirm: Callable[[str], bool],
    *,
    forms: tuple[str, ...] = (),
) -> str | None:
    """Returns the sender value that worked, or None."""
    report.section("3. Send probe (one message as the agent)")
    text = f"Test message from the bridge go-live check ({run_id}). No reply needed."
    client = clients.opencx(settings)
    try:
        for sender in candidates(settings.opencx_agent_sender, forms):
            body = build_agent_message(text, "Go-live check", sender, take_over_from_ai=False)
            answer = client.send_message(session_id, body)
            if answer.ok:
                return _confirm(sender, session_id, report, confirm)
            if answer.status in REFUSED:
                report.add(Verdict(f"send_probe sender={sender}", Outcome.INFO,
                                   f"refused ({answer.status}: {answer.error_text})"))  # fmt: skip
                continue
            fixes = {
                401: "OPENCX_API_KEY is refused: put a valid key in Key Vault.",
                403: "The key lacks chat-sessions:write: give it that scope.",
                404: f"OpenCX has no session {session_id}: start one from your own phone and pass its id.",
                429: "Throttled: wait a minute and run again.",
            }
            report.add(Verdict("send_probe", Outcome.FAIL, f"send answered {answer.status or answer.transport_error}",
                               fixes.get(answer.status or 0, "Check OPENCX_API_URL and OpenCX's status.")))  # fmt: skip
            return None
    finally:
        client.close()
    report.add(Verdict("send_probe", Outcome.FAIL, "OpenCX refused every sender value tried",
                       "Ask OpenCX support which `sender` sends as a human agent, then run again with "
                       "--sender-forms <value>."))  # fmt: skip
    return None


def _confirm(sender: str, session_id: str, report: Reporter, confirm: Callable[[str], bool]) -> str | None:
    if confirm(f"  OpenCX accepted sender={sender!r}. Did the test message arrive in session {session_id} "
               "(on your phone) as from an agent?"):  # fmt: skip
        report.add(Verdict("send_probe", Outcome.PASS, f"sender={sender!r} reaches the customer: "
                           f"set OPENCX_AGENT_SENDER={sender}"))  # fmt: skip
        return sender
    report.add(Verdict("send_probe", Outcome.FAIL, f"OpenCX accepted sender={sender!r} but the message did not arrive",
                       "Check that the session is live on its channel, and ask OpenCX support which sender "
                       "delivers to the customer's thread."))  # fmt: skip
    return None
