"""Where the check reads the app's settings: the same names the Function App reads.

Three sources, one at a time: `--settings local.settings.json` (its `Values`), the process
environment, or `--from-app <name> --resource-group <rg>` through the Azure CLI
(`az functionapp config appsettings list`). A deployed app keeps secrets as Key Vault references
(`@Microsoft.KeyVault(SecretUri=...)` or `(VaultName=...;SecretName=...)`); those are read with
`az keyvault secret show`, which needs the admin to hold a data-plane read role on the vault
("Key Vault Secrets User"): when that is refused, the check says so and names the setting.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from shared.platform.settings import DeliveryMode, Settings, SettingsError, load_settings

_KV_REFERENCE = re.compile(r"^@Microsoft\.KeyVault\((?P<body>.*)\)\s*$", re.IGNORECASE)
Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


class SourceError(RuntimeError):
    """The settings could not be read at all; the message says how to fix it."""


@dataclass
class Loaded:
    """The settings, where they came from, and what could not be resolved."""

    values: dict[str, str]
    origin: str
    unresolved: dict[str, str] = field(default_factory=dict)  # setting -> why its secret is unreadable


def run_az(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["az", *args], capture_output=True, text=True, timeout=120, check=False)


def from_file(path: Path) -> Loaded:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"{path} does not exist: copy local.settings.example.json and fill it in") from None
    except ValueError:
        raise SourceError(f"{path} is not valid JSON") from None
    values = document.get("Values") if isinstance(document, dict) else None
    if not isinstance(values, dict):
        raise SourceError(f'{path} has no "Values" object')
    return Loaded({str(k): str(v) for k, v in values.items() if v is not None}, f"file {path}")


def from_environment(env: Mapping[str, str] | None = None) -> Loaded:
    return Loaded(dict(os.environ if env is None else env), "the environment")


def from_app(name: str, resource_group: str, runner: Runner = run_az) -> Loaded:
    """The deployed app's settings through the Azure CLI, Key Vault references resolved."""
    if runner is run_az and shutil.which("az") is None:
        raise SourceError(
            "--from-app needs the Azure CLI (az): install it and `az login`, or use --settings with a copy "
            "of the app's settings"
        )
    answer = runner(
        ["functionapp", "config", "appsettings", "list", "--name", name, "--resource-group", resource_group,
         "--output", "json"]
    )  # fmt: skip
    if answer.returncode != 0:
        raise SourceError(
            f"az could not list the settings of {name} in {resource_group}: {_first_line(answer.stderr)} "
            "(run `az login`, check the names, and that you may read the app's configuration)"
        )
    try:
        rows = json.loads(answer.stdout or "[]")
    except ValueError:
        raise SourceError("az answered something that is not JSON") from None
    values = {str(row["name"]): str(row.get("value") or "") for row in rows if isinstance(row, dict)}
    loaded = Loaded(values, f"app {name} ({resource_group})")
    for setting, value in list(values.items()):
        match = _KV_REFERENCE.match(value)
        if match is None:
            continue
        secret, problem = _read_secret(match.group("body"), runner)
        if secret is None:
            loaded.unresolved[setting] = problem
            values[setting] = ""
        else:
            values[setting] = secret
    return loaded


def _read_secret(body: str, runner: Runner) -> tuple[str | None, str]:
    parts = dict(part.split("=", 1) for part in body.split(";") if "=" in part)
    parts = {key.strip().lower(): value.strip() for key, value in parts.items()}
    if "secreturi" in parts:
        args = ["keyvault", "secret", "show", "--id", parts["secreturi"]]
        where = parts["secreturi"].split("/secrets/")[0]
    elif "vaultname" in parts and "secretname" in parts:
        args = [
            "keyvault",
            "secret",
            "show",
            "--vault-name",
            parts["vaultname"],
            "--name",
            parts["secretname"],
        ]
        if parts.get("secretversion"):
            args += ["--version", parts["secretversion"]]
        where = parts["vaultname"]
    else:
        return None, "the Key Vault reference has neither SecretUri nor VaultName/SecretName"
    answer = runner([*args, "--query", "value", "--output", "tsv"])
    if answer.returncode != 0:
        error = _first_line(answer.stderr)
        if "forbidden" in error.lower() or "not authorized" in error.lower() or "403" in error:
            return None, (
                f"you may not read secrets in Key Vault {where}: ask for the 'Key Vault Secrets User' role "
                "on it (or run the check where the secret is readable)"
            )
        return None, f"az keyvault secret show failed: {error}"
    return answer.stdout.strip(), ""


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:300] if lines else "no message"


@dataclass(frozen=True)
class AppSettings:
    """The validated settings and the delivery mode the app runs (read even where this build refuses it)."""

    settings: Settings
    mode: DeliveryMode


def validate(values: Mapping[str, str]) -> AppSettings:
    """load_settings, except that mode `messaging` is taken even where this build still refuses it:
    the check must be able to test a deployment of the build that delivers it."""
    try:
        settings = load_settings(values)
        return AppSettings(settings, settings.delivery_mode)
    except SettingsError as exc:
        refused = exc.problems.get("DELIVERY_MODE", "")
        if set(exc.problems) - _MESSAGING_NAMES or "not delivered" not in refused:
            raise
        if set(exc.problems) != {"DELIVERY_MODE"}:
            raise SettingsError({k: v for k, v in exc.problems.items() if k != "DELIVERY_MODE"}) from None
    settings = load_settings({**values, "DELIVERY_MODE": DeliveryMode.WORK_ITEM.value})
    return AppSettings(replace(settings, delivery_mode=DeliveryMode.MESSAGING), DeliveryMode.MESSAGING)


_MESSAGING_NAMES = frozenset(
    {
        "DELIVERY_MODE",
        "MESSAGING_API_URL",
        "MESSAGING_CHANNEL_ID",
        "MESSAGING_ORGANIZATION_ID",
        "MESSAGING_TOKEN_SCOPE",
        "MESSAGING_TENANT_ID",
        "MESSAGING_WEBHOOK_AUDIENCE",
        "MESSAGING_WEBHOOK_APP_ID",
        "MESSAGING_JWKS_URL",
        "MESSAGING_CLIENT_ID",
    }
)
