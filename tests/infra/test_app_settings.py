"""Every setting the app reads reaches the deployed Function App, with the value the admin chose.

Driven by one list, APP_SETTINGS: for each setting the app reads in Azure, the main.bicep
parameter that sets it (with a non-default value to deploy) or the value the deployment fixes.
The tests evaluate main.bicep for those values (bicep_helpers.deploy) and read the app settings
the Function App resource would get, so a setting dropped, misspelt, wired to the wrong parameter
or formatted the way the app cannot parse fails here, not in production.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bicep_helpers import INFRA, ROOT, Resource, Template, decorator, deploy, parse


@dataclass(frozen=True)
class FromParameter:
    """Set from a main.bicep parameter: deploying `chosen` must give the app `expected`."""

    parameter: str
    chosen: object
    expected: str


@dataclass(frozen=True)
class FromSecret:
    """A Key Vault reference to the secret holding the parameter's value."""

    parameter: str
    chosen: str


@dataclass(frozen=True)
class Fixed:
    """Decided by the deployment itself (queue and table names the roles are granted on)."""

    expected: str


def guid(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-{n:012d}"


APP_SETTINGS: dict[str, FromParameter | FromSecret | Fixed] = {
    "DATAVERSE_URL": FromParameter(
        "dataverseUrl", "https://fabrikam.crm4.dynamics.com", "https://fabrikam.crm4.dynamics.com"
    ),
    "DATAVERSE_TIMEOUT_SECONDS": FromParameter("dataverseTimeoutSeconds", 30, "30"),
    "DEFAULT_QUEUE_ID": FromParameter("defaultQueueId", guid(1), guid(1)),
    "WORKSTREAM_ID_SMS": FromParameter("workstreamIdSms", guid(2), guid(2)),
    "WORKSTREAM_ID_WHATSAPP": FromParameter("workstreamIdWhatsapp", guid(3), guid(3)),
    "WORKSTREAM_ID_WEB": FromParameter("workstreamIdWeb", guid(4), guid(4)),
    "OPENCX_API_KEY": FromSecret("opencxApiKey", "ocx-live-key-1"),
    "OPENCX_API_URL": FromParameter("opencxApiUrl", "https://api.eu.open.cx", "https://api.eu.open.cx"),
    "OPENCX_WEBHOOK_SECRET": FromSecret("webhookSecret", "whsec_bmV3 whsec_b2xk"),
    "OPENCX_ORGANIZATION_ID": FromParameter("opencxOrganizationId", "org_42", "org_42"),
    "OPENCX_TIMEOUT_SECONDS": FromParameter("opencxTimeoutSeconds", 25, "25"),
    "DELIVERY_MODE": FromParameter("deliveryMode", "messaging", "messaging"),
    "INCIDENT_PRIORITY": FromParameter("incidentPriority", 1, "1"),
    "INCIDENT_OWNER_ID": FromParameter("incidentOwnerId", guid(5), guid(5)),
    "INCIDENT_OWNER_TYPE": FromParameter("incidentOwnerType", "team", "team"),
    "INCIDENT_QUEUE_ID": FromParameter("incidentQueueId", guid(6), guid(6)),
    "INCIDENT_EXTRA_FIELDS": FromParameter(
        "incidentExtraFields",
        {"caseorigincode": 3, "new_source": "opencx"},
        '{"caseorigincode":3,"new_source":"opencx"}',
    ),
    # ARM's string(false) is 'False'; the app reads 'true'/'false'.
    "CREATE_MISSING_CONTACTS": FromParameter("createMissingContacts", False, "false"),
    "HANDOFF_MAX_ATTEMPTS": FromParameter("handoffMaxAttempts", 7, "7"),
    "HANDOFF_MAX_AGE_SECONDS": FromParameter("handoffMaxAgeSeconds", 3600, "3600"),
    "HANDOFF_DEDUP_WINDOW_SECONDS": FromParameter("handoffDedupWindowSeconds", 60, "60"),
    "HISTORY_MAX_PAGES": FromParameter("historyMaxPages", 3, "3"),
    "HANDOFF_QUEUE": Fixed("handoffs"),
    "HANDOFF_STATUS_TABLE": Fixed("handoffs"),
    "MESSAGING_QUEUE": Fixed("messaging"),
    "MESSAGING_TABLE": Fixed("messaging"),
    "MESSAGING_API_URL": FromParameter(
        "messagingApiUrl",
        "https://m-org.crm.omnichannelengagementhub.com",
        "https://m-org.crm.omnichannelengagementhub.com",
    ),
    "MESSAGING_CHANNEL_ID": FromParameter("messagingChannelId", guid(7), guid(7)),
    "MESSAGING_ORGANIZATION_ID": FromParameter("messagingOrganizationId", guid(8), guid(8)),
    "MESSAGING_TOKEN_SCOPE": FromParameter(
        "messagingTokenScope",
        "https://0000-c.crm.dynamics.com/.default",
        "https://0000-c.crm.dynamics.com/.default",
    ),
    "MESSAGING_TENANT_ID": FromParameter("messagingTenantId", guid(9), guid(9)),
    "MESSAGING_WEBHOOK_AUDIENCE": FromParameter("messagingWebhookAudience", "api://bridge", "api://bridge"),
    "MESSAGING_CLIENT_ID": FromParameter("messagingClientId", guid(10), guid(10)),
    "MESSAGING_WEBHOOK_APP_ID": FromParameter(
        "messagingWebhookAppId", f"{guid(11)} {guid(12)}", f"{guid(11)} {guid(12)}"
    ),
    "MESSAGING_RECONCILE_SECONDS": FromParameter("messagingReconcileSeconds", 120, "120"),
    "MESSAGING_CLIENT_SECRET": FromSecret("messagingClientSecret", "entra-client-secret-value"),
    "OPENCX_AGENT_SENDER": FromParameter("opencxAgentSender", "human_agent", "human_agent"),
    "CONCIERGE": FromParameter("concierge", True, "true"),
    "AFTER_HOURS": FromParameter("afterHours", "incident", "incident"),
    "CONCIERGE_TIME_ZONE": FromParameter("conciergeTimeZone", "America/New_York", "America/New_York"),
    "CONCIERGE_REFRESH_SECONDS": FromParameter("conciergeRefreshSeconds", 300, "300"),
    "CONCIERGE_TIMEOUT_SECONDS": FromParameter("conciergeTimeoutSeconds", 2, "2"),
    "MEDIA_MAX_BYTES": FromParameter("mediaMaxBytes", 16777216, "16777216"),
    "MEDIA_ALLOWED_HOSTS": FromParameter(
        "mediaAllowedHosts", "*.blob.core.windows.net", "*.blob.core.windows.net"
    ),
    "MEDIA_ALLOWED_TYPES": FromParameter("mediaAllowedTypes", "video/mp4", "video/mp4"),
    "MEDIA_TIMEOUT_SECONDS": FromParameter("mediaTimeoutSeconds", 30, "30"),
    "CONCIERGE_TEMPLATES": FromParameter(
        "conciergeTemplates",
        '{"en": {"queued": "Soon.[ #{position}.]"}}',
        '{"en": {"queued": "Soon.[ #{position}.]"}}',
    ),
}

# Settings the platform needs, all identity-based (no key, no connection string with a key).
PLATFORM_SETTINGS = {
    "AZURE_CLIENT_ID",
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_THREADPOOL_THREAD_COUNT",
}
# In local.settings.example.json but never in Azure: the local host, Azurite, the simulators.
LOCAL_ONLY = {
    "FUNCTIONS_WORKER_RUNTIME",
    "AzureWebJobsFeatureFlags",
    "AzureWebJobsStorage",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MESSAGING_JWKS_URL",
}
# Flex Consumption rejects or ignores these, or they would mean a key.
FORBIDDEN = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "APPINSIGHTS_INSTRUMENTATIONKEY",
    "AzureWebJobsStorage",
    "AzureWebJobsDashboard",
}

CHOSEN = {s.parameter: s.chosen for s in APP_SETTINGS.values() if not isinstance(s, Fixed)}


def app_settings(deployment: Template) -> dict[str, str]:
    (app,) = deployment.resources("Microsoft.Web/sites")
    pairs = app.properties["properties"]["siteConfig"]["appSettings"]
    names = [pair["name"] for pair in pairs]
    assert len(names) == len(set(names)), f"an app setting is set twice: {names}"
    return {pair["name"]: pair["value"] for pair in pairs}


def identity_of(deployment: Template) -> Resource:
    (identity,) = deployment.resources("Microsoft.ManagedIdentity/userAssignedIdentities")
    return identity


def test_every_chosen_value_reaches_the_app():
    deployment = deploy(**CHOSEN)
    settings = app_settings(deployment)
    wrong = {
        name: settings.get(name, "<not set>")
        for name, source in APP_SETTINGS.items()
        if isinstance(source, FromParameter | Fixed) and settings.get(name) != source.expected
    }
    assert wrong == {}, f"settings that do not carry the deployed value: {wrong}"
    assert json.loads(settings["INCIDENT_EXTRA_FIELDS"]) == CHOSEN["incidentExtraFields"]


def test_defaults_are_the_app_documented_defaults_and_empty_optionals_stay_unset():
    settings = app_settings(deploy())
    assert {
        name: settings.get(name)
        for name in (
            "OPENCX_API_URL",
            "DELIVERY_MODE",
            "INCIDENT_PRIORITY",
            "INCIDENT_OWNER_TYPE",
            "CREATE_MISSING_CONTACTS",
            "HANDOFF_MAX_ATTEMPTS",
            "HANDOFF_MAX_AGE_SECONDS",
            "HANDOFF_DEDUP_WINDOW_SECONDS",
            "HISTORY_MAX_PAGES",
            "OPENCX_TIMEOUT_SECONDS",
            "OPENCX_AGENT_SENDER",
            "CONCIERGE",
            "AFTER_HOURS",
            "CONCIERGE_TIME_ZONE",
            "CONCIERGE_REFRESH_SECONDS",
            "CONCIERGE_TIMEOUT_SECONDS",
            "MEDIA_MAX_BYTES",
            "MEDIA_TIMEOUT_SECONDS",
        )
    } == {
        "OPENCX_API_URL": "https://api.open.cx",
        "DELIVERY_MODE": "work_item",
        "INCIDENT_PRIORITY": "2",
        "INCIDENT_OWNER_TYPE": "user",
        "CREATE_MISSING_CONTACTS": "true",
        "HANDOFF_MAX_ATTEMPTS": "10",
        "HANDOFF_MAX_AGE_SECONDS": "86400",
        "HANDOFF_DEDUP_WINDOW_SECONDS": "900",
        "HISTORY_MAX_PAGES": "20",
        "OPENCX_TIMEOUT_SECONDS": "10",
        "OPENCX_AGENT_SENDER": "agent",
        "CONCIERGE": "false",
        "AFTER_HOURS": "chat",
        "CONCIERGE_TIME_ZONE": "UTC",
        "CONCIERGE_REFRESH_SECONDS": "120",
        "CONCIERGE_TIMEOUT_SECONDS": "3",
        "MEDIA_MAX_BYTES": "5242880",
        "MEDIA_TIMEOUT_SECONDS": "20",
    }
    # An optional value left empty is not set at all, so the app applies "unset", never "".
    assert "" not in settings.values()
    unset = {
        "WORKSTREAM_ID_SMS",
        "WORKSTREAM_ID_WHATSAPP",
        "WORKSTREAM_ID_WEB",
        "OPENCX_ORGANIZATION_ID",
        "INCIDENT_OWNER_ID",
        "INCIDENT_QUEUE_ID",
        "INCIDENT_EXTRA_FIELDS",
        "OPENCX_WEBHOOK_SECRET",
        "MESSAGING_API_URL",
        "MESSAGING_CLIENT_ID",
        "MESSAGING_CLIENT_SECRET",
        "CONCIERGE_TEMPLATES",
        "MEDIA_ALLOWED_HOSTS",
        "MEDIA_ALLOWED_TYPES",
    }
    assert unset & set(settings) == set()


def test_secrets_are_key_vault_references_the_identity_can_resolve():
    deployment = deploy(**CHOSEN)
    settings = app_settings(deployment)
    (app,) = deployment.resources("Microsoft.Web/sites")
    identity = identity_of(deployment)
    assert app.properties["properties"]["keyVaultReferenceIdentity"] == identity.id
    secrets = {s.full_name: s for s in deployment.resources("Microsoft.KeyVault/vaults/secrets")}
    for name, source in APP_SETTINGS.items():
        if not isinstance(source, FromSecret):
            continue
        match = re.fullmatch(
            r"@Microsoft\.KeyVault\(SecretUri=https://([a-z0-9-]+)\.vault\.azure\.net/secrets/([a-z0-9-]+)\)",
            settings[name],
        )
        assert match, f"{name} must be a versionless Key Vault reference, got {settings[name]!r}"
        secret = secrets[f"{match[1]}/{match[2]}"]
        assert secret.properties["properties"]["value"] == source.chosen, f"{name} resolves to another secret"
        readers = [
            a.properties["properties"]["principalId"]
            for a in deployment.resources("Microsoft.Authorization/roleAssignments")
            if a.properties["scope"].id == secret.id
        ]
        assert readers == [identity.runtime(["principalId"])], f"the app, and only the app, must read {name}"


def test_optional_secrets_left_empty_are_neither_stored_nor_referenced():
    deployment = deploy()
    settings = app_settings(deployment)
    stored = {s.name for s in deployment.resources("Microsoft.KeyVault/vaults/secrets")}
    assert stored == {"opencx-api-key"}
    assert {"OPENCX_WEBHOOK_SECRET", "MESSAGING_CLIENT_SECRET"} & set(settings) == set()
    readable = {
        a.properties["scope"].name
        for a in deployment.resources("Microsoft.Authorization/roleAssignments")
        if a.properties["scope"].type == "Microsoft.KeyVault/vaults/secrets"
    }
    assert readable == {"opencx-api-key"}, "a role on a secret that does not exist fails the deployment"


def test_no_secret_value_appears_outside_its_key_vault_secret():
    secrets = {s.parameter: s.chosen for s in APP_SETTINGS.values() if isinstance(s, FromSecret)}
    probe_key = "health-function-key-1"
    deployment = deploy(**CHOSEN, healthProbeKey=probe_key)
    places = []
    for resource in deployment.resources():
        text = json.dumps(resource.properties, default=str)
        for value in [*secrets.values(), probe_key]:
            if value in text:
                places.append((resource.type, resource.full_name, value))
    allowed = {("Microsoft.KeyVault/vaults/secrets", value) for value in secrets.values()}
    allowed.add(("Microsoft.Insights/webtests", probe_key))
    leaks = [(t, n) for t, n, v in places if (t, v) not in allowed]
    assert leaks == [], f"a secret value reaches {leaks}"
    assert len(places) == len(secrets) + 1, "every secret lands in exactly one place"
    for template in deployment.modules():
        outputs = json.dumps(template.outputs, default=str)
        assert not any(v in outputs for v in [*secrets.values(), probe_key]), (
            f"{template.relative} outputs a secret"
        )


def test_secret_parameters_are_secure_and_the_app_module_never_sees_a_value():
    parameters = parse("main.bicep")["parameters"]
    for source in APP_SETTINGS.values():
        if isinstance(source, FromSecret):
            assert decorator(parameters[source.parameter], "secure"), f"{source.parameter} must be @secure()"
    assert decorator(parameters["healthProbeKey"], "secure")
    app_module = parse("modules/function-app.bicep")["parameters"]
    assert not any(decorator(p, "secure") for p in app_module.values())


def test_only_identity_based_platform_settings_and_nothing_deprecated():
    deployment = deploy(**CHOSEN)
    settings = app_settings(deployment)
    assert set(settings) == set(APP_SETTINGS) | PLATFORM_SETTINGS, "a setting no list accounts for"
    assert FORBIDDEN & set(settings) == set()
    client_id = identity_of(deployment).runtime(["clientId"])
    (account,) = deployment.resources("Microsoft.Storage/storageAccounts")
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__accountName"] == account.name
    assert (
        settings["AzureWebJobsStorage__queueServiceUri"] == f"https://{account.name}.queue.core.windows.net/"
    )
    assert (
        settings["AzureWebJobsStorage__tableServiceUri"] == f"https://{account.name}.table.core.windows.net/"
    )
    assert settings["AzureWebJobsStorage__clientId"] == settings["AZURE_CLIENT_ID"] == client_id
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == f"ClientId={client_id};Authorization=AAD"


def test_every_setting_the_local_example_names_is_delivered_in_azure():
    example = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    missing = set(example) - LOCAL_ONLY - set(APP_SETTINGS) - PLATFORM_SETTINGS
    assert missing == set(), f"the app reads {sorted(missing)} but the deployment never sets them"


def test_choices_are_limited_to_what_the_app_accepts():
    parameters = parse("main.bicep")["parameters"]
    assert set(decorator(parameters["deliveryMode"], "allowed")) == {"work_item", "messaging"}
    assert set(decorator(parameters["incidentOwnerType"], "allowed")) == {"user", "team"}
    for name in ("defaultQueueId",):
        assert decorator(parameters[name], "min_length") == decorator(parameters[name], "max_length") == 36


# ---------------------------------------------------------------------------------------------
# infra/main.bicepparam: what `az deployment group create --parameters` and `azd up` deploy.
# pycep does not read .bicepparam files; the format used is small: `param <name> = <expression>`.
# ---------------------------------------------------------------------------------------------

PARAM_FILE = INFRA / "main.bicepparam"
FROM_ENVIRONMENT = re.compile(
    r"^(?:(?P<cast>int|bool|json)\()?readEnvironmentVariable\('(?P<variable>[A-Za-z][A-Za-z0-9_]*)'"
    r"(?:, '(?P<default>[^']*)')?\)(?(cast)\))$"
)


def bicepparam() -> dict[str, re.Match[str]]:
    lines = [line.strip() for line in PARAM_FILE.read_text().splitlines()]
    lines = [line for line in lines if line and not line.startswith("//")]
    assert lines[0] == "using './main.bicep'"
    found: dict[str, re.Match[str]] = {}
    for line in lines[1:]:
        name, _, expression = line.removeprefix("param ").partition(" = ")
        match = FROM_ENVIRONMENT.match(expression)
        assert match, f"main.bicepparam: {name} must come from readEnvironmentVariable(...), not the file"
        assert name not in found, f"{name} is set twice"
        found[name] = match
    return found


def cast(match: re.Match[str], raw: str) -> object:
    return {"int": int, "bool": lambda v: v.lower() == "true", "json": json.loads}.get(match["cast"], str)(
        raw
    )


def test_the_parameter_file_deploys_what_main_bicep_expects():
    declared = parse("main.bicep")["parameters"]
    assignments = bicepparam()
    assert set(assignments) <= set(declared), "main.bicepparam sets a parameter main.bicep lacks"
    required = {name for name, p in declared.items() if p["default"] is None}
    assert required <= set(assignments), f"not read from the environment: {required - set(assignments)}"
    for name, match in assignments.items():
        default = declared[name]["default"]
        if default is None:
            assert match["default"] is None, f"{name} is required: a fallback would hide a missing variable"
        elif not (isinstance(default, dict) and set(default) in ({"function"}, {"operator"})):
            assert match["default"] is not None, f"{name} has a default; the file must not make it required"
            assert cast(match, match["default"]) == default, (
                f"{name}: fallback differs from main.bicep's {default!r}"
            )
        expected_cast = {"int": "int", "bool": "bool", "object": "json"}.get(declared[name]["type"])
        assert match["cast"] == expected_cast, (
            f"{name}: read as {match['cast']}, parameter is {declared[name]['type']}"
        )


def test_each_environment_variable_is_named_after_the_setting_it_feeds():
    assignments = bicepparam()
    for name, source in APP_SETTINGS.items():
        if isinstance(source, Fixed):
            continue
        assert source.parameter in assignments, (
            f"{name}: {source.parameter} cannot be set through the environment"
        )
        assert assignments[source.parameter]["variable"] == name, (
            f"{source.parameter} is read from {assignments[source.parameter]['variable']}, not {name}"
        )


def test_a_deployment_from_the_environment_gives_the_app_those_values():
    environment = {name: s.chosen for name, s in APP_SETTINGS.items() if not isinstance(s, Fixed)}
    parameters = {}
    for parameter, match in bicepparam().items():
        variable = match["variable"]
        if variable in environment:
            parameters[parameter] = environment[variable]
        elif match["default"] is None:
            parameters[parameter] = {"NAME_PREFIX": "envtest", "ALERT_EMAIL": "ops@example.com"}[variable]
    settings = app_settings(deploy(**parameters))
    for name, source in APP_SETTINGS.items():
        if isinstance(source, FromParameter):
            assert settings[name] == source.expected, name
