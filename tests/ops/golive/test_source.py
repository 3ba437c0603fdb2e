"""Settings from a file, or from a deployed app through az with Key Vault references."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ops.golive import source
from shared.platform.settings import DeliveryMode

BASE = {
    "DATAVERSE_URL": "https://contoso.crm.dynamics.com",
    "DEFAULT_QUEUE_ID": "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b5c",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
}


def fake_az(secret_status: int):  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []

    def runner(args: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        if args[:2] == ["functionapp", "config"]:
            rows = [{"name": k, "value": v} for k, v in BASE.items()]
            rows.append({"name": "OPENCX_API_KEY",
                         "value": "@Microsoft.KeyVault(SecretUri=https://kv1.vault.azure.net/secrets/opencx/)"})  # fmt: skip
            return subprocess.CompletedProcess(args, 0, json.dumps(rows), "")
        if secret_status:
            return subprocess.CompletedProcess(args, 1, "", "ERROR: (Forbidden) Caller is not authorized")
        return subprocess.CompletedProcess(args, 0, "ocx_secret_value\n", "")

    return runner, calls


def test_from_app_resolves_key_vault_references() -> None:
    runner, calls = fake_az(0)
    loaded = source.from_app("bridge-app", "rg", runner)
    assert loaded.values["OPENCX_API_KEY"] == "ocx_secret_value" and not loaded.unresolved
    assert calls[1][:3] == ["keyvault", "secret", "show"]
    assert source.validate(loaded.values).settings.opencx_api_key == "ocx_secret_value"


def test_from_app_says_when_the_admin_may_not_read_the_vault() -> None:
    runner, _ = fake_az(403)
    loaded = source.from_app("bridge-app", "rg", runner)
    assert "Key Vault Secrets User" in loaded.unresolved["OPENCX_API_KEY"]
    assert "kv1.vault.azure.net" in loaded.unresolved["OPENCX_API_KEY"]


def test_file_source_and_messaging_mode(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    values = {**BASE, "OPENCX_API_KEY": "k", "DELIVERY_MODE": "messaging",
              "MESSAGING_API_URL": "https://m-x.crm.omnichannelengagementhub.com",
              "MESSAGING_CHANNEL_ID": "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b51",
              "MESSAGING_ORGANIZATION_ID": "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b52",
              "MESSAGING_TOKEN_SCOPE": "https://x-c.crm.dynamics.com/.default",
              "MESSAGING_TENANT_ID": "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b53",
              "MESSAGING_WEBHOOK_AUDIENCE": "api://x",
              "MESSAGING_WEBHOOK_APP_ID": "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b54"}  # fmt: skip
    path.write_text(json.dumps({"Values": values}))
    app = source.validate(source.from_file(path).values)
    assert app.mode is DeliveryMode.MESSAGING
    with pytest.raises(source.SourceError):
        source.from_file(tmp_path / "missing.json")
