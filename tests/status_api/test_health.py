"""GET /api/health through the function object, against Azurite and the Dataverse simulator."""

import json
import time
import uuid

import azure.functions as func
import pytest
from helpers import enqueue_handoff, function_named, reset_process_caches, with_dead_table_endpoint

from devtools.dataverse_sim import FaultRule
from devtools.opencx_sim import DEFAULT_KEY_NAME, DEFAULT_SCOPES
from devtools.opencx_sim import FaultRule as OpenCXFault


def health() -> tuple[int, dict[str, dict]]:
    request = func.HttpRequest(method="GET", url="http://localhost/api/health", headers={}, body=b"")
    started = time.monotonic()
    response = function_named("health")(request)
    assert time.monotonic() - started < 10
    body = json.loads(response.get_body())
    assert body["status"] == ("healthy" if response.status_code == 200 else "unhealthy")
    return response.status_code, {check["name"]: check for check in body["checks"]}


def test_healthy_bridge_is_200_with_every_check(bridge_env, dataverse, opencx):
    status, checks = health()
    assert status == 200, checks
    queue = bridge_env["HANDOFF_QUEUE"]
    assert set(checks) == {
        "settings",
        "dataverse_token",
        "dataverse_workstream",
        "dataverse_privileges",
        "opencx_api",
        f"queue:{queue}",
        f"queue:{queue}-deadletter",
        f"queue:{queue}-poison",
        "table",
        "media",
    }
    assert all(check["ok"] for check in checks.values())
    assert "SMS workstream" in checks["dataverse_workstream"]["detail"]
    media = checks["media"]["detail"]
    assert media.startswith("files up to 5 MB of image/*, application/pdf, text/plain from ")
    assert opencx.url.split("//")[1] in media and dataverse.url.split("//")[1] in media
    assert "notes on incidents take files up to 3.8 MB" in media  # the org's default, on the base64 text
    assert opencx.count("get_session", status=404) == 1  # one cheap authenticated read


def test_every_channel_workstream_is_checked(bridge_env, dataverse, opencx, monkeypatch):
    missing = str(uuid.uuid4())
    monkeypatch.setenv("WORKSTREAM_ID_WHATSAPP", missing)
    reset_process_caches()
    status, checks = health()
    assert status == 503
    assert (
        missing in checks["dataverse_workstream"]["detail"]
        and "404" in checks["dataverse_workstream"]["detail"]
    )


def test_a_missing_privilege_is_named_with_its_fix(bridge_env, dataverse, opencx):
    dataverse.revoke_privilege("prvCreateIncident")
    status, checks = health()
    assert status == 503
    check = checks["dataverse_privileges"]
    assert check["ok"] is False and "prvCreateIncident" in check["detail"]
    assert "security role" in check["fix"] and "incidents" in check["fix"]
    assert (
        dataverse.incidents == [] and dataverse.work_items == []
    )  # proved by reading, never by a test write


def test_the_queue_privilege_is_needed_only_with_an_incident_queue(
    bridge_env, dataverse, opencx, monkeypatch
):
    dataverse.revoke_privilege("prvAppendToQueue")
    assert health()[1]["dataverse_privileges"]["ok"] is True
    monkeypatch.setenv("INCIDENT_QUEUE_ID", str(uuid.uuid4()))
    reset_process_caches()
    assert "prvAppendToQueue" in health()[1]["dataverse_privileges"]["detail"]


@pytest.mark.parametrize(
    ("privilege", "setting"),
    [("prvCreateQueueItem", "INCIDENT_QUEUE_ID"), ("prvAssignIncident", "INCIDENT_OWNER_ID")],
)
def test_the_deploy_guides_conditional_privileges_are_checked_with_their_setting(
    bridge_env, dataverse, opencx, monkeypatch, privilege, setting
):
    """Health checks every privilege docs/deploy.md's role grants (one list: shared/dynamics/privileges.py)."""
    dataverse.revoke_privilege(privilege)
    assert health()[1]["dataverse_privileges"]["ok"] is True
    monkeypatch.setenv(setting, str(uuid.uuid4()))
    reset_process_caches()
    check = health()[1]["dataverse_privileges"]
    assert check["ok"] is False and privilege in check["detail"], check


@pytest.mark.parametrize(("status", "hint"), [(401, "the key is wrong"), (403, "lacks chat-sessions:read")])
def test_opencx_key_problems_name_the_fix(bridge_env, dataverse, opencx, status, hint):
    opencx.add_fault(OpenCXFault(kind="status", operation="get_session", status=status))
    code, checks = health()
    assert code == 503
    assert checks["opencx_api"]["ok"] is False and hint in checks["opencx_api"]["fix"]


def test_a_revoked_opencx_key_is_reported(bridge_env, dataverse, opencx):
    opencx.remove_key(opencx.api_key)
    try:
        code, checks = health()
    finally:
        opencx.add_key(opencx.api_key, scopes=DEFAULT_SCOPES, name=DEFAULT_KEY_NAME)
    assert code == 503 and "401" in checks["opencx_api"]["detail"]


def test_dead_letter_depth_is_reported(bridge_env, dataverse):
    enqueue_handoff(bridge_env["AzureWebJobsStorage"], bridge_env["HANDOFF_QUEUE"] + "-deadletter", "msg_x")
    _, checks = health()
    deadletter = checks[f"queue:{bridge_env['HANDOFF_QUEUE']}-deadletter"]
    assert deadletter["detail"].startswith("1 message")
    assert "replay" in deadletter["fix"]


def test_bad_workstream_is_503_with_the_404_hint(bridge_env, dataverse, monkeypatch):
    monkeypatch.setenv("DEFAULT_QUEUE_ID", str(uuid.uuid4()))
    reset_process_caches()
    status, checks = health()
    assert status == 503
    check = checks["dataverse_workstream"]
    assert check["ok"] is False and "404" in check["detail"]
    assert (
        "DEFAULT_QUEUE_ID (or the WORKSTREAM_ID_<CHANNEL> naming this id) is not a workstream" in check["fix"]
    )
    assert checks["dataverse_token"]["ok"] is True


@pytest.mark.parametrize(
    ("status", "hint"),
    [(401, "no Dataverse application user"), (403, "lacks privileges on msdyn_ocliveworkitem")],
)
def test_injected_auth_failures_give_the_right_hint(bridge_env, dataverse, status, hint):
    dataverse.add_fault(FaultRule(kind="status", operation="workstream_get", status=status))
    code, checks = health()
    assert code == 503
    check = checks["dataverse_workstream"]
    assert check["ok"] is False and str(status) in check["detail"]
    assert hint in check["fix"]


def test_no_token_is_reported(bridge_env, dataverse):
    dataverse.add_fault(FaultRule(kind="status", operation="token", status=400))
    code, checks = health()
    assert code == 503
    assert checks["dataverse_token"]["ok"] is False


def test_table_down_is_503_within_the_deadline(bridge_env, dataverse, monkeypatch):
    dead = with_dead_table_endpoint(bridge_env["AzureWebJobsStorage"])
    monkeypatch.setenv("AzureWebJobsStorage", dead)
    reset_process_caches()
    code, checks = health()
    assert code == 503
    assert checks["table"]["ok"] is False and "Table" in checks["table"]["fix"]
    assert checks[f"queue:{bridge_env['HANDOFF_QUEUE']}"]["ok"] is True


def test_invalid_settings_are_503_naming_them(bridge_env, monkeypatch):
    monkeypatch.setenv("DEFAULT_QUEUE_ID", "nope")
    reset_process_caches()
    code, checks = health()
    assert code == 503
    assert checks["settings"]["ok"] is False and "DEFAULT_QUEUE_ID" in checks["settings"]["detail"]


def test_a_throttled_opencx_key_is_still_a_good_key(bridge_env, dataverse, opencx):
    """OpenCX checks the key before the rate limit: a 429 proves the key, and the health probe
    must not page anyone because the bridge is busy."""
    opencx.add_fault(OpenCXFault(kind="status", operation="get_session", status=429, retry_after=5))
    code, checks = health()
    assert code == 200 and checks["opencx_api"]["ok"] is True
    assert "throttling" in checks["opencx_api"]["detail"]


def test_the_media_check_shows_the_allow_list_and_the_orgs_note_limit(
    bridge_env, dataverse, opencx, monkeypatch
):
    monkeypatch.setenv("MEDIA_MAX_BYTES", "1048576")
    monkeypatch.setenv("MEDIA_ALLOWED_HOSTS", "*.blob.core.windows.net")
    reset_process_caches()
    status, checks = health()
    assert status == 200, checks
    detail = checks["media"]["detail"]
    assert detail.startswith("files up to 1 MB of ") and "*.blob.core.windows.net" in detail
    assert detail.endswith("the org takes notes up to 3.8 MB")
