"""azure.yaml: `azd up` provisions infra/main.bicep and publishes the app to the tagged Function App."""

from __future__ import annotations

from pathlib import Path

import yaml
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
AZURE_YAML = yaml.safe_load((ROOT / "azure.yaml").read_text())


def test_infra_points_at_main_bicep():
    infra = AZURE_YAML["infra"]
    assert infra["provider"] == "bicep"
    module = ROOT / infra["path"] / f"{infra['module']}.bicep"
    assert module.is_file()
    assert (module.parent / f"{infra['module']}.bicepparam").is_file(), "azd reads <module>.bicepparam"


def test_api_service_is_this_python_function_app():
    assert set(AZURE_YAML["services"]) == {"api"}
    api = AZURE_YAML["services"]["api"]
    assert api == {"project": ".", "language": "python", "host": "function"}
    assert (ROOT / api["project"] / "host.json").is_file(), "the project must be the Functions app root"


def test_the_function_app_carries_the_service_tag_azd_looks_for():
    module = BicepParser().parse(file_path=ROOT / "infra" / "modules" / "function-app.bicep")
    tags = module["resources"]["app"]["config"]["tags"]["function"]["parameters"]["arg_2"]
    assert tags["'azd-service-name'"] in AZURE_YAML["services"]


def test_azd_does_not_upload_the_infrastructure_or_tests():
    ignored = (ROOT / ".funcignore").read_text().split()
    for path in ("infra/", "tests/", "azure.yaml", "docs/"):
        assert path in ignored, f".funcignore should keep {path} out of the package"
