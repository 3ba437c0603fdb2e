"""Step 4 (mode messaging): what audience, issuer and app id does Microsoft's webhook token carry?

The check arms the webhook's token recorder (shared/messaging/token_probe.py: the webhook records
nothing unless armed), starts a labelled test conversation through the Messaging API (the app's
own client and body builder), narrows the arming to that conversation, waits until the webhook has
recorded a token for it, compares it with MESSAGING_TENANT_ID, MESSAGING_WEBHOOK_AUDIENCE and
MESSAGING_WEBHOOK_APP_ID, prints the exact values to set, then disarms, ends the conversation and
removes every row stored for it. A refused token's claims are unverified (anyone may post a token): they
are shown only because they came for the conversation this run started, and marked as such.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from ops.golive import cleanup, clients, labels
from ops.golive.report import Outcome, Reporter, Verdict
from shared.messaging import token_probe
from shared.messaging.bodies import build_create_body
from shared.messaging.token import issuers_for
from shared.platform.settings import Settings

TENANT_REASONS = frozenset({"wrong_issuer", "wrong_tenant"})
ARM_MARGIN_SECONDS = 60.0  # the arming outlives the wait: starting the conversation takes time too


def run(
    settings: Settings,
    run_id: str,
    report: Reporter,
    *,
    wait_seconds: float,
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> token_probe.RecordedClaims | None:
    report.section("4. Webhook token probe (mode messaging)")
    client = clients.messaging(settings)
    body = build_create_body(
        f"{labels.CUSTOMER_PREFIX}{run_id}",
        preferred_name="Go-live check",
        context={labels.CONTEXT_NAME: run_id},
        start_message=f"{labels.PROBE_PREFIX} {run_id}] test conversation: no customer is waiting. "
        "A rep may accept it and reply anything; the check ends it.",
    )
    from azure.core.exceptions import AzureError

    try:
        armed = token_probe.arm(settings, wait_seconds + ARM_MARGIN_SECONDS)
    except (AzureError, OSError) as exc:
        report.add(Verdict("webhook_probe", Outcome.FAIL,
                           f"the webhook's token recorder could not be armed ({type(exc).__name__})",
                           "Check the storage account's table endpoint and MESSAGING_TABLE."))  # fmt: skip
        client.session.close()
        return None
    sleep(token_probe.ARM_CACHE_SECONDS)  # a webhook that read "not armed" just before reads again
    try:
        created = client.create_conversation(body)
    finally:
        client.session.close()
    conversation_id = created.conversation_id
    if created.ok and conversation_id:
        with contextlib.suppress(AzureError, OSError):  # unnarrowed, the arming is still bounded
            token_probe.arm(settings, wait_seconds + ARM_MARGIN_SECONDS, conversation_id, armed)
    else:
        token_probe.clear_claims(settings)
        fixes = {
            401: "The Messaging API refused the token: check MESSAGING_TOKEN_SCOPE, MESSAGING_CLIENT_ID and "
            "the app registration's federated credential (docs/deploy.md, mode messaging).",
            404: "MESSAGING_CHANNEL_ID is not a configured channel (30004): check the channel row.",
            400: f"The channel is refused ({created.error_code}): link it to a workstream (30014).",
        }
        report.add(Verdict("webhook_probe", Outcome.FAIL,
                           f"the test conversation could not be started ({created.status or created.transport_error})",
                           fixes.get(created.status or 0, "Check MESSAGING_API_URL and the service's status.")))  # fmt: skip
        return None
    cleanup.mark_conversation(settings, conversation_id, run_id)
    report.add(Verdict("webhook_probe.start", Outcome.INFO, f"started test conversation {conversation_id}"))
    report.say(f"  waiting up to {wait_seconds:g} s for the webhook to receive a token for it (a rep")
    report.say("  accepting it or replying makes Microsoft call the webhook)")
    try:
        claims = _wait(settings, conversation_id, wait_seconds, poll_seconds, sleep)
        report.add(verdict(settings, claims, wait_seconds))
        return claims
    finally:
        ended = cleanup.end_and_forget(settings, conversation_id)
        token_probe.clear_claims(settings)
        report.add(Verdict("webhook_probe.cleanup", Outcome.PASS if ended else Outcome.WARN,
                           "test conversation ended and its rows removed" if ended
                           else "test conversation could not be ended (its rows were removed)",
                           None if ended else "It closes on its own after inactivity."))  # fmt: skip


def _wait(
    settings: Settings, conversation_id: str, budget: float, every: float, sleep: Callable[[float], None]
) -> token_probe.RecordedClaims | None:
    deadline = time.monotonic() + budget
    while True:
        claims = token_probe.read_claims(settings)
        if claims is not None and claims.conversation_id == conversation_id:
            return claims
        if time.monotonic() >= deadline:
            return None
        sleep(every)


def verdict(settings: Settings, claims: token_probe.RecordedClaims | None, waited: float) -> Verdict:
    m = settings.messaging
    if claims is None:
        return Verdict("webhook_probe", Outcome.FAIL, f"the webhook recorded no token within {waited:g} s",
                       "Check the channel's webhook URL (msdyn_webhookurl) is https://<app>/api/messaging and "
                       "reachable, that the deployed build records tokens (shared/messaging/token_probe.py), "
                       "and have a rep accept the test conversation; then run again.")  # fmt: skip
    values = _setting_values(claims)
    if not claims.verified and claims.reason == "app_id":
        if not claims.app_id:
            return Verdict("webhook_probe", Outcome.FAIL,
                           f"the webhook REFUSED Microsoft's token: it names no calling app (appid/azp); "
                           f"the token says (unverified) {_claims_text(claims)}",
                           "The channel must call with its registered app's token (msdyn_appid on the "
                           "channel row, docs/messaging.md); check the channel's app registration.")  # fmt: skip
        return Verdict("webhook_probe", Outcome.FAIL,
                       f"the webhook REFUSED Microsoft's token: its app {claims.app_id} is not "
                       f"MESSAGING_WEBHOOK_APP_ID ({' '.join(m.webhook_app_ids)}); the token says "
                       f"(unverified) {_claims_text(claims)}",
                       f"Set MESSAGING_WEBHOOK_APP_ID={claims.app_id} if that is the channel's registered "
                       "app (msdyn_appid); otherwise another app is calling the webhook.")  # fmt: skip
    if not claims.verified:
        which = "MESSAGING_TENANT_ID" if claims.reason in TENANT_REASONS else "MESSAGING_WEBHOOK_AUDIENCE"
        return Verdict("webhook_probe", Outcome.FAIL,
                       f"the webhook REFUSED Microsoft's token ({claims.reason}); the token says "
                       f"(unverified) {_claims_text(claims)}",
                       f"Check {which}; the values this token would need: {values}")  # fmt: skip
    problems = []
    if (claims.tenant_id or "").lower() != m.tenant_id.lower():
        problems.append("tenant")
    if claims.issuer not in issuers_for(claims.tenant_id or m.tenant_id):
        problems.append("issuer")
    if claims.audience not in m.webhook_audience:
        problems.append("audience")
    if (claims.app_id or "").lower() not in {a.lower() for a in m.webhook_app_ids}:
        problems.append("app id")
    if problems:
        return Verdict("webhook_probe", Outcome.FAIL,
                       f"the token ({_claims_text(claims)}) differs from the settings in: {', '.join(problems)}",
                       f"Set {values}")  # fmt: skip
    extra = ""
    if len(m.webhook_audience) > 1:
        extra = f"; MESSAGING_WEBHOOK_AUDIENCE may be narrowed to {claims.audience}"
    return Verdict("webhook_probe", Outcome.PASS,
                   f"Microsoft's token matches the settings ({_claims_text(claims)}): keep {values}{extra}")  # fmt: skip


def _claims_text(claims: token_probe.RecordedClaims) -> str:
    return f"iss={claims.issuer}, aud={claims.audience}, appid={claims.app_id}, tid={claims.tenant_id}"


def _setting_values(claims: token_probe.RecordedClaims) -> str:
    return (
        f"MESSAGING_TENANT_ID={claims.tenant_id} MESSAGING_WEBHOOK_AUDIENCE={claims.audience} "
        f"MESSAGING_WEBHOOK_APP_ID={claims.app_id}"
    )
