"""Fixtures for the simulator's own tests: a fresh simulator per test and a client with a valid token."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from dvsim_support import Client  # noqa: E402

from devtools.dataverse_sim import DataverseSimulator  # noqa: E402


@pytest.fixture
def sim() -> Iterator[DataverseSimulator]:
    with DataverseSimulator(seed=0) as simulator:
        yield simulator
        assert simulator.errors == [], "the simulator hit an internal error"


@pytest.fixture
def client(sim: DataverseSimulator) -> Client:
    return Client(sim)
