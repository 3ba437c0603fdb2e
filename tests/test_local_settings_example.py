"""local.settings.example.json: every setting the code reads, values that pass validation, an
OpenCX key placeholder and no webhook secret (OpenCX documents no signature)."""

import json
import re

from helpers import ROOT

from shared.platform.settings import DeliveryMode, load_settings

EXAMPLE = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
SETTINGS_SOURCE = (ROOT / "shared" / "platform" / "settings.py").read_text()


def settings_the_code_reads() -> set[str]:
    """Every upper-case setting name load_settings reads, the per-channel workstreams expanded."""
    names = set(re.findall(r'"((?:[A-Z][A-Z0-9]*_)+[A-Z0-9]+)"', SETTINGS_SOURCE))
    if "WORKSTREAM_ID_{channel.upper()}" in SETTINGS_SOURCE:
        names |= {"WORKSTREAM_ID_SMS", "WORKSTREAM_ID_WHATSAPP", "WORKSTREAM_ID_WEB"}
    return names


def test_example_settings_are_valid_and_local():
    settings = load_settings(EXAMPLE)
    assert settings.storage.connection_string and "127.0.0.1:10001" in settings.storage.connection_string
    assert settings.delivery_mode is DeliveryMode.WORK_ITEM
    assert settings.webhook_secret_problem is None


def test_every_setting_the_code_reads_is_in_the_example():
    names = settings_the_code_reads()
    assert {
        "OPENCX_API_KEY",
        "HANDOFF_DEDUP_WINDOW_SECONDS",
        "INCIDENT_EXTRA_FIELDS",
        "WORKSTREAM_ID_WEB",
    } <= names
    assert names <= set(EXAMPLE), sorted(names - set(EXAMPLE))


def test_opencx_key_is_a_placeholder_and_no_webhook_secret_by_default():
    assert "replace" in EXAMPLE["OPENCX_API_KEY"]
    assert EXAMPLE["OPENCX_WEBHOOK_SECRET"] == ""
    assert load_settings(EXAMPLE).webhook_secrets == ()
    assert not any(value.startswith("whsec_") for value in EXAMPLE.values())


def test_every_setting_in_the_readme_table_is_in_the_example():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Settings") : readme.index("## Pointing OpenCX")]
    names = set(re.findall(r"^\| `([A-Za-z_]+)` \|", table, flags=re.MULTILINE))
    assert {"DATAVERSE_URL", "DEFAULT_QUEUE_ID", "AzureWebJobsStorage"} <= names
    assert names <= set(EXAMPLE), sorted(names - set(EXAMPLE))
