"""A Dataverse Web API simulator on loopback, for tests, demos and benchmarks of the handoff bridge.

It implements the operations of docs/contract.md section 5 (contact lookup, workstream read, deep-insert
create of msdyn_ocliveworkitems, contact, incident and note creates, GET by id, AddToQueue, WhoAmI and the
user privilege functions), the App Service managed-identity token endpoint azure-identity uses when
IDENTITY_ENDPOINT / IDENTITY_HEADER are set, injectable faults, and a `/_sim/` admin API.
docs/dataverse-simulator.md lists each behaviour and the Microsoft document it follows.

    with DataverseSimulator() as sim:
        workstream = sim.add_workstream()
        os.environ.update(sim.env())
"""

from devtools.dataverse_sim.demo import (
    DEMO_OWNER_USER_ID,
    DEMO_QUEUE_ID,
    DEMO_WORKSTREAM_ID,
    DEMO_WORKSTREAMS,
    seed_demo,
)
from devtools.dataverse_sim.faults import FaultRule
from devtools.dataverse_sim.simulator import (
    DUPLICATE_CODE_DOCUMENTED,
    DUPLICATE_CODE_EMPTY,
    DataverseSimulator,
)

__all__ = [
    "DEMO_OWNER_USER_ID",
    "DEMO_QUEUE_ID",
    "DEMO_WORKSTREAMS",
    "DEMO_WORKSTREAM_ID",
    "DUPLICATE_CODE_DOCUMENTED",
    "DUPLICATE_CODE_EMPTY",
    "DataverseSimulator",
    "FaultRule",
    "seed_demo",
]
