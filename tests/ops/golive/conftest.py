"""A devtools.stack.Stack per test (its own Azurite, simulators and runner); the identity environment
restored afterwards. `stack` runs mode work_item, `messaging_stack` mode messaging."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from devtools.stack import Stack  # noqa: E402
from ops.golive.local import start_stack  # noqa: E402


@pytest.fixture
def identity_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        monkeypatch.setenv(name, "restored-after-the-test")
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def _stack(mode: str, tmp_path: Path) -> Iterator[Stack]:
    started = start_stack(mode, tmp_path / "runner.log")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def stack(identity_env: None, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack("work_item", tmp_path)


@pytest.fixture
def messaging_stack(identity_env: None, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack("messaging", tmp_path)
