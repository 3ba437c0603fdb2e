"""Step 1, reads only: what /api/health checks, run from the admin's machine, plus what health
cannot see (each workstream's channel). Reuses status_api/health.py's checks where they fit.

Workstream channel: `msdyn_liveworkstream.msdyn_streamsource` ("The channel to which this
workstream is attached", MicrosoftDocs/dynamics-365-customer-engagement .../entities/
msdyn_liveworkstream.md). Its choices include 192340000 SMS, 192300000 WhatsApp, 192360000 Live
chat, 192350002 Custom and 192350000 Entity Records. Reading chosen: "Entity Records" is record
routing (cases, emails), every other value is a messaging channel; a live work item the bridge
creates for channel X must sit on a workstream whose streamsource is X's (the same option values
the bridge writes into msdyn_channel, shared/dynamics/work_item.py CHANNEL_OPTION). The brief we
were given said 192350000 means messaging; the table reference says it is Entity Records.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ops.golive import clients
from ops.golive.report import Outcome, Reporter, Verdict
from shared.dynamics.privileges import required_privileges
from shared.dynamics.work_item import CHANNEL_OPTION
from shared.platform.settings import DeliveryMode, Settings

STREAMSOURCE_LABELS = {
    19241000: "Microsoft Teams", 192300000: "WhatsApp", 192310000: "LINE", 192320000: "WeChat",
    192330000: "Facebook", 192340000: "SMS", 192350000: "Entity Records", 192350001: "Twitter",
    192350002: "Custom", 192360000: "Live chat", 192370000: "Voice", 192380000: "Video",
    192440000: "Voice call", 192450000: "Apple Messages for Business",
}  # fmt: skip
if TYPE_CHECKING:
    from status_api.health import Check
# status_api's package exports a function named `health` that hides the module of that name.
health = importlib.import_module("status_api.health")
ENTITY_RECORDS = 192350000
CUSTOM = 192350002


def _from_check(check: Check) -> Verdict:
    return Verdict(check.name, Outcome.PASS if check.ok else Outcome.FAIL, check.detail, check.fix)


def run(settings: Settings, mode: DeliveryMode, report: Reporter, app_user_id: str | None = None) -> None:
    report.section("1. Reads (nothing is written)")
    token = report.add(_from_check(health._token(settings)))
    if token.outcome is Outcome.FAIL:
        report.add(Verdict("dataverse", Outcome.SKIP, "no token, so no Dataverse reads"))
    else:
        workstreams(settings, mode, report)
        privileges(settings, report, app_user_id)
    report.add(_from_check(health._opencx(settings)))
    opencx_write_scope(settings, mode, report)


def expected_channels(settings: Settings) -> dict[str, list[str]]:
    """workstream id -> the channels that route to it (DEFAULT_QUEUE_ID serves the unconfigured ones)."""
    channels: dict[str, list[str]] = {}
    for channel in CHANNEL_OPTION:
        channels.setdefault(settings.workstream_for(channel), []).append(channel)
    return channels


def workstreams(settings: Settings, mode: DeliveryMode, report: Reporter) -> None:
    client = clients.dataverse(settings)
    try:
        for workstream, channels in expected_channels(settings).items():
            answer = client.get(
                f"msdyn_liveworkstreams({workstream})",
                "workstream_get",
                {"$select": "msdyn_name,msdyn_streamsource"},
            )
            step = f"workstream {workstream}"
            if answer.status != 200:
                fix = {401: health.FIX_401, 403: health.FIX_403, 404: health.FIX_404}.get(
                    answer.status or 0, "Check DATAVERSE_URL and the environment's health, then retry."
                )
                detail = f"GET answered {answer.status or answer.transport_error}"
                report.add(Verdict(step, Outcome.FAIL, detail, fix))
                continue
            report.add(_channel_verdict(step, answer.body, channels, mode))
    finally:
        client.close()


def _channel_verdict(step: str, body: dict, channels: list[str], mode: DeliveryMode) -> Verdict:
    name = body.get("msdyn_name")
    source = body.get("msdyn_streamsource")
    label = STREAMSOURCE_LABELS.get(source, str(source)) if source is not None else "unknown"
    serves = "/".join(channels)
    head = f"'{name}', channel {label}, serves {serves}"
    if source is None:
        return Verdict(step, Outcome.WARN, head + ": its channel could not be read",
                       "Check in the admin center that the workstream's channel matches " + serves)  # fmt: skip
    if source == ENTITY_RECORDS:
        return Verdict(step, Outcome.FAIL, head + ": a record-routing workstream, not a messaging one",
                       f"Point WORKSTREAM_ID_{channels[0].upper()} (or DEFAULT_QUEUE_ID) at a messaging "
                       f"workstream of channel {serves}.")  # fmt: skip
    if mode is DeliveryMode.MESSAGING and source == CUSTOM:
        return Verdict(step, Outcome.PASS, head)
    wanted = {int(CHANNEL_OPTION[c]) for c in channels}
    fix = ("Set WORKSTREAM_ID_<CHANNEL> per channel, each to a workstream of that channel; "
           "DEFAULT_QUEUE_ID serves only the channels without one.")  # fmt: skip
    if source not in wanted:
        return Verdict(step, Outcome.FAIL, head + ": the channel does not match", fix)
    if len(wanted) > 1:
        return Verdict(step, Outcome.WARN, head + ": one workstream serves one channel; the others' "
                       "handoffs would land on this one", fix)  # fmt: skip
    return Verdict(step, Outcome.PASS, head)


def privileges(settings: Settings, report: Reporter, app_user_id: str | None) -> None:
    """Health's check reads WhoAmI: right when the check runs as the app's identity. An admin signed
    in as themselves names the application user with --app-user-id instead."""
    required = required_privileges(
        incident_queue=bool(settings.incident_queue_id),
        create_contacts=settings.create_missing_contacts,
        incident_owner=bool(settings.incident_owner_id),
    )
    client = clients.dataverse(settings)
    try:
        user_id = app_user_id
        if user_id is None:
            who = client.get("WhoAmI", "whoami")
            user_id = who.body.get("UserId") if who.ok else None
            if not user_id:
                report.add(Verdict("dataverse_privileges", Outcome.FAIL, f"WhoAmI answered {who.status}",
                                   health.FIX_401))  # fmt: skip
                return
            report.say(f"  (privileges of the signed-in user {user_id}: pass --app-user-id <systemuserid> "
                       "when you are not signed in as the app's identity)")  # fmt: skip
        held = client.get(
            f"systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges", "privileges"
        )
    finally:
        client.close()
    if not held.ok:
        report.add(Verdict("dataverse_privileges", Outcome.FAIL, f"privileges could not be read ({held.status})",
                           health.FIX_403 if held.status == 403 else "Check --app-user-id and retry."))  # fmt: skip
        return
    rows = held.body.get("RolePrivileges") or []
    names = {str(row.get("PrivilegeName", "")).lower() for row in rows if isinstance(row, dict)}
    missing = [(p, why) for p, why in required if p.lower() not in names]
    if missing:
        report.add(Verdict(
            "dataverse_privileges", Outcome.FAIL,
            f"missing {len(missing)} privilege(s): " + ", ".join(p for p, _ in missing),
            "Add them to the application user's security role: "
            + "; ".join(f"{p}: to {why}" for p, why in missing),
        ))  # fmt: skip
    else:
        report.add(Verdict("dataverse_privileges", Outcome.PASS, f"all {len(required)} privileges held"))


def opencx_write_scope(settings: Settings, mode: DeliveryMode, report: Reporter) -> None:
    """chat-sessions:write, asked of a session that cannot exist: 404 means the scope is held (OpenCX
    checks the key's scope before the session), 403 that it is not. Nothing changes either way."""
    client = clients.opencx(settings)
    try:
        answer = client.update_session("bridge-golive-scope-probe", {})
    finally:
        client.close()
    needed = mode is DeliveryMode.MESSAGING
    if answer.status in (200, 204, 400, 404, 422):
        report.add(Verdict("opencx_write_scope", Outcome.PASS, "the key holds chat-sessions:write"))
    elif answer.status == 403:
        report.add(Verdict(
            "opencx_write_scope", Outcome.FAIL if needed else Outcome.WARN,
            "the key lacks chat-sessions:write" + ("" if needed else " (needed for mode messaging and the send probe)"),
            "Give the OpenCX API key the chat-sessions:write scope.",
        ))  # fmt: skip
    else:
        report.add(Verdict("opencx_write_scope", Outcome.WARN, f"could not tell (answer {answer.status})",
                           "Retry; check OPENCX_API_URL."))  # fmt: skip
