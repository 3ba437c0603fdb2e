"""Fixtures shared by every test: a real Azurite, started once per session on free loopback ports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devtools.azurite import Azurite  # noqa: E402


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A real Azurite (queue, blob, table) in memory. Tests that stop it must start it again."""
    server = Azurite().start()
    try:
        yield server
    finally:
        server.stop()
