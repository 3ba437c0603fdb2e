"""GET /api/health: the bridge's "Test & Save". Each check says ok or not, and how to fix it.

Checks run in parallel under one deadline, so the answer comes within ~10 s even when Dataverse
or storage hangs; a check still running at the deadline counts as failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass

import azure.functions as func

from shared.dynamics.dataverse import DataverseClient, probe_client
from shared.dynamics.privileges import check_privileges, required_privileges
from shared.opencx.client import OpenCXClient
from shared.platform.credentials import shared_credential
from shared.platform.failure import Failure
from shared.platform.problem import json_response
from shared.platform.queues import QueueProfile, make_queue_client
from shared.platform.settings import DeliveryMode, Settings, SettingsError, get_settings
from shared.platform.status_store import StoreProfile, StoreUnavailable, probe

DEADLINE_SECONDS = 8.0
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")

FIX_401 = (
    "The managed identity has no Dataverse application user (or the token audience is wrong): "
    "register the identity's client id as an application user in the environment."
)
FIX_403 = (
    "The application user's security role lacks privileges on msdyn_ocliveworkitem, incident, contact, "
    "queue or msdyn_liveworkstream: grant the least role docs/deploy.md lists."
)
FIX_404 = (
    "DEFAULT_QUEUE_ID (or the WORKSTREAM_ID_<CHANNEL> naming this id) is not a workstream "
    "(msdyn_liveworkstream): set it to the workstream's GUID."
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def _settings_check() -> tuple[Check, Settings | None]:
    try:
        settings = get_settings()
    except SettingsError as exc:
        names = ", ".join(exc.problems)
        return Check("settings", False, f"invalid settings: {names}", str(exc)), None
    if settings.webhook_secret_problem:
        return (
            Check(
                "settings",
                False,
                f"invalid settings: {settings.webhook_secret_problem}",
                "Set OPENCX_WEBHOOK_SECRET to one or more whsec_<base64> secrets separated by spaces; "
                "webhooks get 503 until then, queued handoffs are still delivered.",
            ),
            settings,
        )
    return Check("settings", True, "all settings valid"), settings


def _token(settings: Settings) -> Check:
    try:
        shared_credential(settings.azure_client_id).get_token(f"{settings.dataverse_url}/.default")
    except Exception as exc:  # azure.identity raises several types; each means "no token"
        return Check(
            "dataverse_token",
            False,
            f"no token for {settings.dataverse_url}: {type(exc).__name__}",
            "The managed identity is not available to the app: check the identity is assigned and "
            "AZURE_CLIENT_ID names it.",
        )
    return Check("dataverse_token", True, f"token issued for {settings.dataverse_url}")


def _probe_client(settings: Settings) -> DataverseClient:
    return probe_client(settings, DataverseClient)


def _workstreams(settings: Settings) -> Check:
    """Every workstream a channel routes to (DEFAULT_QUEUE_ID and WORKSTREAM_ID_<CHANNEL>) exists."""
    client = _probe_client(settings)
    name = "dataverse_workstream"
    found: list[str] = []
    try:
        for workstream in dict.fromkeys([settings.default_queue_id, *settings.workstreams.values()]):
            response = client.get(
                f"msdyn_liveworkstreams({workstream})", "workstream_get", {"$select": "msdyn_name"}
            )
            if response.status != 200:
                detail = f"GET msdyn_liveworkstreams({workstream}) answered {response.status}"
                if response.status is None:
                    detail = f"no answer from Dataverse ({response.transport_error})"
                fixes = {401: FIX_401, 403: FIX_403, 404: FIX_404}
                fix = fixes.get(
                    response.status or 0, "Check DATAVERSE_URL and the environment's health, then retry."
                )
                return Check(
                    name, False, detail + (f" ({response.error_code})" if response.error_code else ""), fix
                )
            found.append(f"{workstream} is '{response.body.get('msdyn_name')}'")
    finally:
        client.close()
    return Check(name, True, "workstream " + "; ".join(found))


def _privileges(settings: Settings) -> Check:
    """The application user's privileges, read, never proved by a test write."""
    client = _probe_client(settings)
    try:
        required = required_privileges(
            incident_queue=bool(settings.incident_queue_id),
            create_contacts=settings.create_missing_contacts,
            incident_owner=bool(settings.incident_owner_id),
        )
        report = check_privileges(client, required)
    finally:
        client.close()
    name = "dataverse_privileges"
    if report.status is not None or report.error_code:
        fixes = {401: FIX_401, 403: FIX_403}
        return Check(
            name, False, f"the privileges could not be read ({report.status})",
            fixes.get(report.status or 0, "Check DATAVERSE_URL and the environment's health, then retry."),
        )  # fmt: skip
    if report.missing:
        listed = ", ".join(privilege for privilege, _ in report.missing)
        reasons = "; ".join(f"{privilege}: to {why}" for privilege, why in report.missing)
        return Check(
            name, False, f"missing {len(report.missing)} privilege(s): {listed}",
            "Add them to the application user's security role (docs/deploy.md lists the least role): " + reasons,
        )  # fmt: skip
    return Check(name, True, f"all {len(required)} privileges the bridge needs are held")


def _opencx(settings: Settings) -> Check:
    """A cheap authenticated read: a session id that cannot exist answers 404 to a good key."""
    client = OpenCXClient(
        settings.opencx_api_url, settings.opencx_api_key, read_timeout=5.0, inline_retry_pauses=()
    )
    try:
        response = client.get_session("bridge-health-probe")
    finally:
        client.close()
    if response.status in (200, 404):
        return Check("opencx_api", True, f"the key reads sessions at {settings.opencx_api_url}")
    if response.status == 429:  # OpenCX authenticates before it throttles: the key is good
        return Check(
            "opencx_api", True, "the key is accepted; OpenCX is throttling it right now (Retry-After)"
        )
    fixes = {
        401: "OpenCX refused OPENCX_API_KEY: the key is wrong or revoked. Put a valid key in Key Vault.",
        403: "The key lacks chat-sessions:read (and chat-sessions:write in mode messaging): give it those scopes.",
    }
    detail = (
        f"GET /chat/sessions answered {response.status}"
        if response.status
        else f"no answer ({response.transport_error})"
    )
    return Check(
        "opencx_api",
        False,
        detail,
        fixes.get(response.status or 0, "Check OPENCX_API_URL and OpenCX's status."),
    )


def _media(settings: Settings) -> Check:
    """What files may cross (docs/messaging.md, "Pictures and files"), and the org's note limit
    (organization.maxuploadfilesize) when it is below MEDIA_MAX_BYTES: incidents then take smaller
    files than live chats, and a file between the two becomes a note saying why. Informational:
    nothing is lost either way, so it never fails health."""
    from shared.dynamics.annotation import attachment_limits
    from shared.media.policy import policy_for
    from shared.media.refs import megabytes

    policy = policy_for(settings)
    hosts = ", ".join(sorted([*policy.hosts, *("*" + domain for domain in policy.domains)]))
    cap = (
        "no files (MEDIA_MAX_BYTES=0)"
        if not policy.max_bytes
        else f"files up to {megabytes(policy.max_bytes)}"
    )
    detail = f"{cap} of {', '.join(policy.types)} from {hosts}"
    client = _probe_client(settings)
    try:
        limits = attachment_limits(client)
    finally:
        client.close()
    if isinstance(limits, Failure):
        return Check(
            "media", True, detail + f"; the org's attachment limit could not be read ({limits.describe()})"
        )
    if policy.max_bytes > limits.max_file_bytes:  # not a fault: such a file becomes a note saying so
        return Check(
            "media", True,
            detail + f"; notes on incidents take files up to {megabytes(limits.max_file_bytes)} (the org's "
            "maxuploadfilesize): a larger one becomes a note saying so",
        )  # fmt: skip
    return Check("media", True, detail + f"; the org takes notes up to {megabytes(limits.max_file_bytes)}")


def _queue(settings: Settings, queue: str, kind: str) -> Check:
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    client = make_queue_client(settings.storage, queue, QueueProfile.INGRESS)
    try:
        depth = client.get_queue_properties().approximate_message_count or 0
    except ResourceNotFoundError:
        depth = 0  # created on first use
    except AzureError as exc:
        return Check(
            f"queue:{queue}", False, f"unreachable: {type(exc).__name__}",
            "Check AzureWebJobsStorage and the identity's Storage Queue Data Contributor role.",
        )  # fmt: skip
    finally:
        client.close()
    check = Check(f"queue:{queue}", True, f"{depth} message(s)")
    if kind != "handoffs" and depth:
        check.fix = (
            f"{depth} handoff(s) need attention: see docs/operations.md, then `python -m ops.replay list`."
        )
    return check


def _table() -> Check:
    try:
        name = probe(StoreProfile.INGRESS)
    except StoreUnavailable as exc:
        return Check(
            "table", False, f"unreachable: {exc}",
            "Check the table endpoint (AzureWebJobsStorage__tableServiceUri) and the identity's "
            "Storage Table Data Contributor role.",
        )  # fmt: skip
    return Check("table", True, f"table {name} reachable")


def run_checks(deadline: float = DEADLINE_SECONDS) -> list[Check]:
    """Every check, in a stable order; a check that outlives the deadline fails as timed out."""
    first, settings = _settings_check()
    if settings is None:
        return [first]
    jobs: dict[str, Callable[[], Check]] = {
        "dataverse_token": lambda: _token(settings),
        "dataverse_workstream": lambda: _workstreams(settings),
        "dataverse_privileges": lambda: _privileges(settings),
        "opencx_api": lambda: _opencx(settings),
        f"queue:{settings.handoff_queue}": lambda: _queue(settings, settings.handoff_queue, "handoffs"),
        f"queue:{settings.deadletter_queue}": lambda: _queue(
            settings, settings.deadletter_queue, "deadletter"
        ),
        f"queue:{settings.poison_queue}": lambda: _queue(settings, settings.poison_queue, "poison"),
        "table": _table,
        "media": lambda: _media(settings),
    }
    if settings.concierge.enabled:  # shared/concierge/health.py
        from shared.concierge.health import NAME, availability_check

        jobs[NAME] = lambda: Check(NAME, *availability_check(settings))
    if settings.delivery_mode is DeliveryMode.MESSAGING:  # shared/messaging/health.py
        from shared.messaging.health import messaging_jobs

        for name, job in messaging_jobs(settings).items():
            jobs[name] = lambda name=name, job=job: Check(name, *job())  # type: ignore[misc]
    futures = {name: _pool.submit(job) for name, job in jobs.items()}
    wait(futures.values(), timeout=deadline)
    checks = [first]
    for name, future in futures.items():
        if not future.done():
            checks.append(
                Check(name, False, f"no answer within {deadline:.0f} s", "The dependency hangs: check it.")
            )
        elif future.exception() is not None:
            checks.append(Check(name, False, f"check failed: {type(future.exception()).__name__}"))
        else:
            checks.append(future.result())
    return checks


def handle_health(req: func.HttpRequest) -> func.HttpResponse:
    """200 when every check passes, 503 otherwise; the body lists each check either way."""
    started = time.monotonic()
    checks = run_checks()
    healthy = all(check.ok for check in checks)
    return json_response(
        200 if healthy else 503,
        {
            "status": "healthy" if healthy else "unhealthy",
            "durationMs": round((time.monotonic() - started) * 1000),
            "checks": [asdict(check) for check in checks],
        },
    )
