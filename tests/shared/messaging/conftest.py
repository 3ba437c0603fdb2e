"""A relay dependency set of its own per test: a fresh messaging table on the session's Azurite and
a clock the test moves (no test sleeps a minute)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass
class FakeClock:
    now: float = 1_780_000_000.0  # 2026-05-28

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def relay_deps(
    bridge_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> Iterator[object]:
    from helpers import reset_process_caches

    from shared.messaging.deps import RelayDeps
    from shared.platform.settings import get_settings

    suffix = uuid.uuid4().hex[:10]
    monkeypatch.setenv("MESSAGING_TABLE", f"relay{suffix}")
    monkeypatch.setenv("MESSAGING_QUEUE", f"relay-{suffix}")
    reset_process_caches()
    deps = RelayDeps.build(get_settings(), clock=clock)
    yield deps
    deps.close(5)
