"""A Dataverse Web API simulator on loopback (docs/contract.md section 5, plus the managed-identity
endpoint, faults and a `/_sim/` admin API); docs/dataverse-simulator.md cites the Microsoft page for each
behaviour."""

from devtools.dataverse_sim.demo import (
    DEMO_OWNER_USER_ID,
    DEMO_QUEUE_ID,
    DEMO_WORKSTREAM_ID,
    DEMO_WORKSTREAMS,
    seed_demo,
)
from devtools.dataverse_sim.server import FaultRule
from devtools.dataverse_sim.simulator import DataverseSimulator

__all__ = [
    "DEMO_OWNER_USER_ID",
    "DEMO_QUEUE_ID",
    "DEMO_WORKSTREAMS",
    "DEMO_WORKSTREAM_ID",
    "DataverseSimulator",
    "FaultRule",
    "seed_demo",
]
