"""azure.yaml: `azd up` provisions infra/main.bicep and publishes this app to the Function App it tags."""

from __future__ import annotations

import yaml
from bicep_helpers import INFRA, ROOT, deploy

AZURE_YAML = yaml.safe_load((ROOT / "azure.yaml").read_text())


def test_azd_provisions_main_bicep_with_its_parameter_file():
    infra = AZURE_YAML["infra"]
    assert infra["provider"] == "bicep"
    module = ROOT / infra["path"] / f"{infra['module']}.bicep"
    assert module == INFRA / "main.bicep"
    assert module.with_suffix(".bicepparam").is_file(), "azd reads <module>.bicepparam"


def test_azd_publishes_this_python_app_to_the_function_app_carrying_its_tag():
    (name,) = AZURE_YAML["services"]
    api = AZURE_YAML["services"][name]
    assert api == {"project": ".", "language": "python", "host": "function"}
    assert (ROOT / api["project"] / "host.json").is_file(), "the project must be the Functions app root"
    tagged = [
        r.full_name
        for r in deploy().resources("Microsoft.Web/sites")
        if r.properties.get("tags", {}).get("azd-service-name") == name
    ]
    assert len(tagged) == 1, "azd deploys to the one site tagged with the service name"


def test_azd_does_not_upload_the_infrastructure_or_tests():
    ignored = (ROOT / ".funcignore").read_text().split()
    for path in ("infra/", "tests/", "azure.yaml", "docs/"):
        assert path in ignored, f".funcignore should keep {path} out of the package"
