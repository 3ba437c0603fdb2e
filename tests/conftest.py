"""Fixtures shared by every test: a real Azurite, started once per session on free loopback ports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from helpers import bridge_environment, reset_process_caches  # noqa: E402

from devtools.azurite import Azurite  # noqa: E402


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A real Azurite (queue, blob, table) in memory. Tests that stop it must start it again."""
    server = Azurite().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def queue_name() -> str:
    """A fresh queue name per test, so tests sharing one Azurite never see each other's messages."""
    import uuid

    return f"handoffs-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bridge_env(
    azurite: Azurite, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """Valid app settings in os.environ, pointing at the session's Azurite and a fresh queue."""
    env = bridge_environment(azurite.connection_string, queue_name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_process_caches()
    yield env
    reset_process_caches()


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[object]:
    """One Dataverse simulator for the session; `dataverse` resets it for each test."""
    from devtools.dataverse_sim import DataverseSimulator

    with DataverseSimulator(seed=7) as sim:
        yield sim


@pytest.fixture
def dataverse(simulator_server, bridge_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """A clean simulator with the test workstream, wired into the settings and the credential env."""
    from helpers import WORKSTREAM_ID

    sim = simulator_server
    sim.clear_faults()
    assert sim.wait_idle(), "a request from an earlier test is still being handled"
    sim.reset()
    sim.token_lifetime = 3600.0
    sim.latency = 0.0
    sim.max_concurrency = None
    sim.add_workstream(WORKSTREAM_ID, "SMS workstream")
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATAVERSE_TIMEOUT_SECONDS", "1.0")
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "MSI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    bridge_env.update(sim.env())
    reset_process_caches()
    yield sim
    reset_process_caches()


@pytest.fixture(scope="session")
def opencx_server() -> Iterator[object]:
    """One OpenCX API simulator for the session; `opencx` resets it for each test."""
    from devtools.opencx_sim import OpenCXSimulator

    with OpenCXSimulator(api_key="ocx_test_key_for_unit_tests") as sim:
        yield sim


@pytest.fixture
def opencx(opencx_server, bridge_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """A clean OpenCX simulator seeded with the demo sessions, wired into the settings."""
    from devtools.opencx_sim import seed_demo

    sim = opencx_server
    sim.clear_faults()
    assert sim.wait_idle(), "a request from an earlier test is still being handled"
    sim.reset()
    sim.rate_limit = None
    sim.latency = 0.0
    sim.page_size = 50
    sim.history_order = "oldest_first"
    seed_demo(sim)
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    bridge_env.update(sim.env())
    reset_process_caches()
    yield sim
    reset_process_caches()


@pytest.fixture(autouse=True)
def _settled_status_writes() -> Iterator[None]:
    """Every test ends with ingress's background "accepted" writes done: a late one would log
    handoff.accepted into the next test's records (and write to its storage)."""
    yield
    ingress = sys.modules.get("handoff_trigger.ingress")
    if ingress is not None:
        ingress.wait_for_status_writes()
