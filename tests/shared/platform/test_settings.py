"""load_settings against docs/contract.md section 7: every setting, one error naming every bad one,
never a value."""

from __future__ import annotations

import pytest

from shared.platform.settings import DeliveryMode, OwnerType, SettingsError, load_settings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
API_KEY = "ocx_live_key_0123456789abcdef"
VALID = {
    "DATAVERSE_URL": "https://contoso.crm.dynamics.com/",
    "DEFAULT_QUEUE_ID": "6F1B3C2A-9D4E-4F00-8A11-0C0FFEE00001",
    "OPENCX_API_KEY": API_KEY,
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
}
GUID = "11111111-2222-3333-4444-555555555555"
MESSAGING = {
    "MESSAGING_API_URL": "https://m-org.us.omnichannelengagementhub.com",
    "MESSAGING_CHANNEL_ID": GUID,
    "MESSAGING_ORGANIZATION_ID": GUID,
    "MESSAGING_TOKEN_SCOPE": "https://org-c.crm.dynamics.com/.default",
    "MESSAGING_TENANT_ID": GUID,
    "MESSAGING_WEBHOOK_AUDIENCE": "api://bridge",
    "MESSAGING_WEBHOOK_APP_ID": GUID,
}


def problems_of(env: dict[str, str]) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    return caught.value.problems


def test_valid_settings_are_normalised_with_defaults():
    settings = load_settings(VALID)
    assert settings.dataverse_url == "https://contoso.crm.dynamics.com"
    assert settings.default_queue_id == "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"
    assert settings.opencx_api_key == API_KEY
    assert settings.opencx_api_url == "https://api.open.cx"
    assert settings.webhook_secrets == ()  # no signature unless a secret is set
    assert settings.organization_id is None
    assert settings.delivery_mode is DeliveryMode.WORK_ITEM
    assert settings.workstreams == {}
    assert settings.incident_priority == 2
    assert settings.incident_owner_id is None and settings.incident_queue_id is None
    assert settings.incident_owner_type is OwnerType.USER
    assert settings.incident_extra_fields == {}
    assert settings.create_missing_contacts is True
    assert settings.handoff_queue == "handoffs"
    assert settings.deadletter_queue == "handoffs-deadletter"
    assert settings.poison_queue == "handoffs-poison"
    assert settings.max_attempts == 10
    assert settings.max_age_seconds == 86_400
    assert settings.dedup_window_seconds == 900
    assert settings.history_max_pages == 20
    assert settings.webhook_secret_problem is None


def test_missing_everything_names_each_required_setting():
    assert set(problems_of({})) == {
        "DATAVERSE_URL",
        "DEFAULT_QUEUE_ID",
        "OPENCX_API_KEY",
        "AzureWebJobsStorage",
    }


@pytest.mark.parametrize("key", ["", "   ", "has space", "tab\tkey"])
def test_opencx_api_key_is_required_and_one_token(key):
    problems = problems_of({**VALID, "OPENCX_API_KEY": key})
    assert list(problems) == ["OPENCX_API_KEY"]
    if key.strip():
        assert key not in problems["OPENCX_API_KEY"]


def test_opencx_api_url_follows_the_https_rule():
    assert load_settings({**VALID, "OPENCX_API_URL": "http://127.0.0.1:8123/"}).opencx_api_url == (
        "http://127.0.0.1:8123"
    )
    assert list(problems_of({**VALID, "OPENCX_API_URL": "http://api.open.cx"})) == ["OPENCX_API_URL"]


def test_webhook_secret_is_optional_and_rotates():
    second = "whsec_" + "A" * 32
    settings = load_settings({**VALID, "OPENCX_WEBHOOK_SECRET": f"{SECRET}  {second}"})
    assert settings.webhook_secrets == (SECRET, second)
    assert load_settings({**VALID, "OPENCX_WEBHOOK_SECRET": "  "}).webhook_secrets == ()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("plain-secret-value", "secret #1 must start with whsec_"),
        (f"{SECRET} whsec_***", "secret #2 is not valid base64"),
        ("whsec_c2hvcnQ=", "shorter than 16 bytes"),
    ],
)
def test_a_bad_webhook_secret_alone_is_carried_for_ingress_not_raised(value, words):
    """The worker never needs the secret: a rotation typo must not stop delivery."""
    settings = load_settings({**VALID, "OPENCX_WEBHOOK_SECRET": value})
    assert settings.webhook_secret_problem and words in settings.webhook_secret_problem
    for part in value.split():
        assert part.removeprefix("whsec_") not in settings.webhook_secret_problem
    with pytest.raises(SettingsError) as caught:
        load_settings({**VALID, "OPENCX_WEBHOOK_SECRET": value, "DEFAULT_QUEUE_ID": "nope"})
    assert set(caught.value.problems) == {"OPENCX_WEBHOOK_SECRET", "DEFAULT_QUEUE_ID"}


def test_every_problem_is_listed_at_once_without_values():
    env = {
        "DATAVERSE_URL": "http://contoso.crm.dynamics.com",
        "DEFAULT_QUEUE_ID": "not-a-guid",
        "OPENCX_API_KEY": "key with-a-space-in-it",
        "OPENCX_WEBHOOK_SECRET": "plain-secret-value",
        "HANDOFF_QUEUE": "Bad_Name",
        "HANDOFF_MAX_ATTEMPTS": "0",
        "DELIVERY_MODE": "carrier-pigeon",
        "INCIDENT_EXTRA_FIELDS": '{"password": "hunter2-extra"',
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert set(caught.value.problems) == {
        "DATAVERSE_URL",
        "DEFAULT_QUEUE_ID",
        "OPENCX_API_KEY",
        "OPENCX_WEBHOOK_SECRET",
        "AzureWebJobsStorage",
        "HANDOFF_QUEUE",
        "HANDOFF_MAX_ATTEMPTS",
        "DELIVERY_MODE",
        "INCIDENT_EXTRA_FIELDS",
    }
    text = str(caught.value) + repr(caught.value.problems)
    for value in ("plain-secret-value", "with-a-space", "hunter2", "carrier-pigeon", "Bad_Name"):
        assert value not in text


def test_repr_hides_every_secret():
    env = {
        **VALID,
        **MESSAGING,
        "OPENCX_WEBHOOK_SECRET": SECRET,
        "INCIDENT_EXTRA_FIELDS": '{"new_token": "extra-secret-value"}',
        "MESSAGING_CLIENT_SECRET": "client-secret-value",
        "AzureWebJobsStorage": "DefaultEndpointsProtocol=http;AccountName=x;AccountKey=storagekeyvalue==;",
    }
    text = repr(load_settings(env))
    for secret in (SECRET, API_KEY, "extra-secret-value", "client-secret-value", "storagekeyvalue"):
        assert secret not in text


@pytest.mark.parametrize(
    ("raw", "mode"), [("", DeliveryMode.WORK_ITEM), ("Work_Item", DeliveryMode.WORK_ITEM)]
)
def test_delivery_mode(raw, mode):
    assert load_settings({**VALID, "DELIVERY_MODE": raw}).delivery_mode is mode


def test_messaging_settings_are_required_only_in_mode_messaging():
    assert load_settings(VALID).delivery_mode is DeliveryMode.WORK_ITEM  # none of them set: fine
    problems = problems_of({**VALID, "DELIVERY_MODE": "messaging"})
    assert set(problems) == {
        "MESSAGING_API_URL",
        "MESSAGING_CHANNEL_ID",
        "MESSAGING_ORGANIZATION_ID",
        "MESSAGING_TOKEN_SCOPE",
        "MESSAGING_TENANT_ID",
        "MESSAGING_WEBHOOK_AUDIENCE",
        "MESSAGING_WEBHOOK_APP_ID",
    }
    settings = load_settings({**VALID, **MESSAGING, "DELIVERY_MODE": "messaging"})
    assert settings.delivery_mode is DeliveryMode.MESSAGING
    assert settings.messaging.channel_id == GUID
    assert settings.messaging.webhook_audience == ("api://bridge",)


def test_webhook_app_ids_default_to_the_client_id_and_are_guids():
    base = {k: v for k, v in MESSAGING.items() if k != "MESSAGING_WEBHOOK_APP_ID"}
    env = {**VALID, **base, "DELIVERY_MODE": "messaging"}
    client = "AAAAAAAA-2222-3333-4444-555555555555"
    assert load_settings({**env, "MESSAGING_CLIENT_ID": client}).messaging.webhook_app_ids == (
        client.lower(),
    )
    both = load_settings(
        {**env, "MESSAGING_WEBHOOK_APP_ID": f"{GUID} {client}", "MESSAGING_CLIENT_ID": client}
    )
    assert both.messaging.webhook_app_ids == (GUID, client.lower())
    assert "MESSAGING_WEBHOOK_APP_ID" in problems_of({**env, "MESSAGING_WEBHOOK_APP_ID": "app-x"})
    assert "MESSAGING_WEBHOOK_APP_ID" in problems_of(env)


def test_bad_messaging_settings_are_ignored_in_mode_work_item():
    assert load_settings({**VALID, "MESSAGING_CHANNEL_ID": "nope"}).delivery_mode is DeliveryMode.WORK_ITEM


def test_workstreams_per_channel():
    sms, web = "AAAAAAAA-2222-3333-4444-555555555555", GUID
    settings = load_settings({**VALID, "WORKSTREAM_ID_SMS": sms, "WORKSTREAM_ID_WEB": web})
    assert settings.workstreams == {"sms": sms.lower(), "web": web}
    assert settings.workstream_for("sms") == sms.lower()
    assert settings.workstream_for("whatsapp") == settings.default_queue_id
    assert list(problems_of({**VALID, "WORKSTREAM_ID_WHATSAPP": "wa"})) == ["WORKSTREAM_ID_WHATSAPP"]


def test_incident_settings():
    settings = load_settings(
        {
            **VALID,
            "INCIDENT_PRIORITY": "1",
            "INCIDENT_OWNER_ID": GUID,
            "INCIDENT_OWNER_TYPE": "Team",
            "INCIDENT_QUEUE_ID": GUID.upper(),
            "INCIDENT_EXTRA_FIELDS": '{"caseorigincode": 2, "new_source": "opencx"}',
            "CREATE_MISSING_CONTACTS": "false",
        }
    )
    assert settings.incident_priority == 1
    assert settings.incident_owner_id == GUID
    assert settings.incident_owner_type is OwnerType.TEAM
    assert settings.incident_queue_id == GUID
    assert settings.incident_extra_fields == {"caseorigincode": 2, "new_source": "opencx"}
    assert settings.create_missing_contacts is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INCIDENT_PRIORITY", "high"),
        ("INCIDENT_PRIORITY", "0"),
        ("INCIDENT_OWNER_ID", "someone"),
        ("INCIDENT_OWNER_TYPE", "robot"),
        ("INCIDENT_QUEUE_ID", "queue-1"),
        ("INCIDENT_EXTRA_FIELDS", "[1, 2]"),
        ("INCIDENT_EXTRA_FIELDS", '{"": 1}'),
        ("CREATE_MISSING_CONTACTS", "maybe"),
        ("DELIVERY_MODE", "both"),
        ("HANDOFF_MAX_AGE_SECONDS", "59"),
        ("HANDOFF_MAX_AGE_SECONDS", "1 day"),
        ("HANDOFF_DEDUP_WINDOW_SECONDS", "-1"),
        ("HANDOFF_DEDUP_WINDOW_SECONDS", "86401"),
        ("HISTORY_MAX_PAGES", "0"),
        ("HISTORY_MAX_PAGES", "101"),
        ("MESSAGING_RECONCILE_SECONDS", "-1"),
        ("HANDOFF_MAX_ATTEMPTS", "101"),
        ("OPENCX_TIMEOUT_SECONDS", "0"),
        ("OPENCX_ORGANIZATION_ID", "org\n1"),
        ("DATAVERSE_TIMEOUT_SECONDS", "15s"),
        ("HANDOFF_STATUS_TABLE", "bad-name"),
        ("AZURE_CLIENT_ID", "not-a-guid"),
    ],
)
def test_each_optional_setting_is_validated_alone(name, value):
    assert list(problems_of({**VALID, name: value})) == [name]


def test_incident_extra_fields_that_is_not_json_is_named_without_its_content():
    raw = '{"new_apikey": "sk_live_hunter2", '
    problems = problems_of({**VALID, "INCIDENT_EXTRA_FIELDS": raw})
    assert "not valid JSON" in problems["INCIDENT_EXTRA_FIELDS"]
    assert (
        "hunter2" not in problems["INCIDENT_EXTRA_FIELDS"]
        and "new_apikey" not in problems["INCIDENT_EXTRA_FIELDS"]
    )


@pytest.mark.parametrize(
    ("name", "raw", "attribute", "value"),
    [
        ("HANDOFF_MAX_AGE_SECONDS", "3600", "max_age_seconds", 3600),
        ("HANDOFF_DEDUP_WINDOW_SECONDS", "0", "dedup_window_seconds", 0),
        ("HISTORY_MAX_PAGES", "50", "history_max_pages", 50),
        ("MESSAGING_RECONCILE_SECONDS", "60", "messaging_reconcile_seconds", 60),
        ("CREATE_MISSING_CONTACTS", "YES", "create_missing_contacts", True),
        ("OPENCX_ORGANIZATION_ID", " org_8f1c ", "organization_id", "org_8f1c"),
        ("DATAVERSE_TIMEOUT_SECONDS", "2.5", "dataverse_timeout", 2.5),
    ],
)
def test_optional_settings_are_read(name, raw, attribute, value):
    assert getattr(load_settings({**VALID, name: raw}), attribute) == value


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:5000", "http://[::1]:9"])
def test_plain_http_is_allowed_for_loopback_only(url):
    assert load_settings({**VALID, "DATAVERSE_URL": url}).dataverse_url == url


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5", "ftp://contoso", "contoso.crm.dynamics.com", "https://x.crm.dynamics.com/api"]
)
def test_bad_dataverse_urls_are_refused(url):
    assert list(problems_of({**VALID, "DATAVERSE_URL": url})) == ["DATAVERSE_URL"]


def test_identity_based_storage_from_account_name():
    env = {k: v for k, v in VALID.items() if k != "AzureWebJobsStorage"}
    env |= {
        "AzureWebJobsStorage__accountName": "sthandoff",
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": GUID,
    }
    storage = load_settings(env).storage
    assert storage.connection_string is None
    assert storage.queue_service_uri == "https://sthandoff.queue.core.windows.net"
    assert storage.table_service_uri == "https://sthandoff.table.core.windows.net"
    assert storage.client_id == GUID


def test_identity_based_storage_from_service_uris_and_bad_credential():
    env = {k: v for k, v in VALID.items() if k != "AzureWebJobsStorage"}
    env |= {"AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net/"}
    assert load_settings(env).storage.queue_service_uri == "https://acct.queue.core.windows.net"
    assert "AzureWebJobsStorage__credential" in problems_of(env | {"AzureWebJobsStorage__credential": "key"})


def test_queue_name_leaves_room_for_the_deadletter_suffix():
    assert list(problems_of({**VALID, "HANDOFF_QUEUE": "q" * 60})) == ["HANDOFF_QUEUE"]
    assert (
        load_settings({**VALID, "HANDOFF_QUEUE": "sms-handoffs"}).deadletter_queue
        == "sms-handoffs-deadletter"
    )


@pytest.mark.parametrize("key", ["ключ-opencx", "key with space", "key\x07bell"])
def test_an_api_key_that_cannot_travel_in_a_header_is_refused_without_its_value(key):
    """Review finding: a non-ASCII key passed validation, then every delivery crashed encoding
    the header and went to poison."""
    problems = problems_of({**VALID, "OPENCX_API_KEY": key})
    assert "OPENCX_API_KEY" in problems
    assert key not in str(problems) and "ключ" not in str(problems)
