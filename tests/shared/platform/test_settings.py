import pytest

from shared.platform.settings import SettingsError, load_settings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VALID = {
    "DATAVERSE_URL": "https://contoso.crm.dynamics.com/",
    "DEFAULT_QUEUE_ID": "6F1B3C2A-9D4E-4F00-8A11-0C0FFEE00001",
    "OPENCX_WEBHOOK_SECRET": SECRET,
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
}


def test_valid_settings_are_normalised():
    settings = load_settings(VALID)
    assert settings.dataverse_url == "https://contoso.crm.dynamics.com"
    assert settings.dataverse_api == "https://contoso.crm.dynamics.com/api/data/v9.2/"
    assert settings.default_queue_id == "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"
    assert settings.handoff_queue == "handoffs"
    assert settings.deadletter_queue == "handoffs-deadletter"
    assert settings.poison_queue == "handoffs-poison"
    assert settings.max_attempts == 10
    assert settings.webhook_secrets == (SECRET,)


def test_every_problem_is_listed_at_once_without_values():
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "DATAVERSE_URL": "http://contoso.crm.dynamics.com",
                "DEFAULT_QUEUE_ID": "not-a-guid",
                "OPENCX_WEBHOOK_SECRET": "plain-secret-value",
                "HANDOFF_QUEUE": "Bad_Name",
                "HANDOFF_MAX_ATTEMPTS": "0",
            }
        )
    problems = caught.value.problems
    assert set(problems) == {
        "DATAVERSE_URL",
        "DEFAULT_QUEUE_ID",
        "OPENCX_WEBHOOK_SECRET",
        "AzureWebJobsStorage",
        "HANDOFF_QUEUE",
        "HANDOFF_MAX_ATTEMPTS",
    }
    assert "plain-secret-value" not in str(caught.value)
    assert "https" in problems["DATAVERSE_URL"]


def test_missing_everything_names_each_required_setting():
    with pytest.raises(SettingsError) as caught:
        load_settings({})
    assert set(caught.value.problems) == {
        "DATAVERSE_URL",
        "DEFAULT_QUEUE_ID",
        "OPENCX_WEBHOOK_SECRET",
        "AzureWebJobsStorage",
    }


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:5000", "http://[::1]:9"])
def test_plain_http_is_allowed_for_loopback_only(url):
    assert load_settings({**VALID, "DATAVERSE_URL": url}).dataverse_url == url


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5", "ftp://contoso", "contoso.crm.dynamics.com", "https://x.crm.dynamics.com/api"]
)
def test_bad_dataverse_urls_are_refused(url):
    with pytest.raises(SettingsError) as caught:
        load_settings({**VALID, "DATAVERSE_URL": url})
    assert list(caught.value.problems) == ["DATAVERSE_URL"]


def test_rotation_accepts_several_secrets_and_checks_each():
    second = "whsec_" + "A" * 32
    assert load_settings({**VALID, "OPENCX_WEBHOOK_SECRET": f"{SECRET}  {second}"}).webhook_secrets == (
        SECRET,
        second,
    )
    problem = load_settings({**VALID, "OPENCX_WEBHOOK_SECRET": f"{SECRET} whsec_***"}).webhook_secret_problem
    assert "secret #2" in problem
    assert "***" not in problem


def test_identity_based_storage_from_account_name():
    env = {k: v for k, v in VALID.items() if k != "AzureWebJobsStorage"}
    env |= {
        "AzureWebJobsStorage__accountName": "sthandoff",
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": "11111111-2222-3333-4444-555555555555",
    }
    storage = load_settings(env).storage
    assert storage.uses_identity
    assert storage.queue_service_uri == "https://sthandoff.queue.core.windows.net"
    assert storage.table_service_uri == "https://sthandoff.table.core.windows.net"
    assert storage.client_id == "11111111-2222-3333-4444-555555555555"


def test_identity_based_storage_from_service_uris_and_bad_credential():
    env = {k: v for k, v in VALID.items() if k != "AzureWebJobsStorage"}
    env |= {"AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net/"}
    assert load_settings(env).storage.queue_service_uri == "https://acct.queue.core.windows.net"
    with pytest.raises(SettingsError) as caught:
        load_settings(env | {"AzureWebJobsStorage__credential": "connectionstring"})
    assert "AzureWebJobsStorage__credential" in caught.value.problems


def test_repr_hides_secrets():
    assert SECRET not in repr(load_settings(VALID))


def test_queue_name_leaves_room_for_the_deadletter_suffix():
    with pytest.raises(SettingsError):
        load_settings({**VALID, "HANDOFF_QUEUE": "q" * 60})
    assert (
        load_settings({**VALID, "HANDOFF_QUEUE": "sms-handoffs"}).deadletter_queue
        == "sms-handoffs-deadletter"
    )


def test_a_bad_webhook_secret_alone_is_carried_not_raised():
    """The worker never needs the secret: a rotation typo must not stop delivery."""
    settings = load_settings({**VALID, "OPENCX_WEBHOOK_SECRET": f"{SECRET} whsec_new!"})
    assert settings.webhook_secret_problem and "OPENCX_WEBHOOK_SECRET" in settings.webhook_secret_problem
    assert "whsec_new!" not in settings.webhook_secret_problem
    with pytest.raises(SettingsError) as caught:
        load_settings({**VALID, "OPENCX_WEBHOOK_SECRET": "nope", "DEFAULT_QUEUE_ID": "nope"})
    assert set(caught.value.problems) == {"OPENCX_WEBHOOK_SECRET", "DEFAULT_QUEUE_ID"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATAVERSE_TIMEOUT_SECONDS", "15s"),
        ("DATAVERSE_TIMEOUT_SECONDS", "0"),
        ("HANDOFF_STATUS_TABLE", "bad-name"),
    ],
)
def test_optional_settings_are_validated_too(name, value):
    with pytest.raises(SettingsError) as caught:
        load_settings({**VALID, name: value})
    assert list(caught.value.problems) == [name]


def test_optional_settings_defaults():
    settings = load_settings(VALID)
    assert settings.dataverse_timeout == 15.0 and settings.status_table is None
    assert load_settings({**VALID, "DATAVERSE_TIMEOUT_SECONDS": "2.5"}).dataverse_timeout == 2.5
