"""A local stack per test on the session's Azurite; the identity environment restored afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from devtools.golive.local import LocalStack  # noqa: E402


@pytest.fixture
def identity_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        monkeypatch.setenv(name, "restored-after-the-test")
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def stack(azurite, identity_env) -> Iterator[LocalStack]:
    local = LocalStack(azurite_connection=azurite.connection_string).start()
    try:
        yield local
    finally:
        local.stop()
