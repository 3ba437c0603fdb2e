"""local.settings.example.json: every setting the code reads, and values that pass validation."""

import json
import re

from helpers import ROOT

from shared.platform.settings import load_settings

EXAMPLE = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]


def test_example_settings_are_valid():
    settings = load_settings(EXAMPLE)
    assert settings.storage.connection_string and "127.0.0.1:10001" in settings.storage.connection_string


def test_every_setting_in_the_readme_table_is_in_the_example():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Settings") : readme.index("## Pointing OpenCX")]
    names = set(re.findall(r"^\| `([A-Za-z_]+)` \|", table, flags=re.MULTILINE))
    assert {"DATAVERSE_URL", "DEFAULT_QUEUE_ID", "OPENCX_WEBHOOK_SECRET", "AzureWebJobsStorage"} <= names
    assert names <= set(EXAMPLE), sorted(names - set(EXAMPLE))
