"""A Dataverse Web API simulator on loopback, for tests, demos and benchmarks of the handoff bridge.

It implements the operations of docs/contract.md section 5 (contact lookup with `statecode`, workstream read, deep-insert
create of msdyn_ocliveworkitems, contact and incident creates, GET by id, AddToQueue, WhoAmI and the user
privilege functions), the App Service managed-identity token endpoint azure-identity uses when
IDENTITY_ENDPOINT / IDENTITY_HEADER are set, injectable faults, and a `/_sim/` admin API.
docs/dataverse-simulator.md lists each behaviour and the Microsoft document it follows.

    with DataverseSimulator() as sim:
        workstream = sim.add_workstream()
        os.environ.update(sim.env())
"""

from devtools.dataverse_sim.demo import (
    CROWD_EMAIL,
    CROWD_PHONE,
    CROWD_SIZE,
    DEMO_CONTACTS,
    DEMO_INACTIVE_CONTACTS,
    DEMO_INACTIVE_EMAIL,
    DEMO_INACTIVE_PHONE,
    DEMO_OWNER_TEAM_ID,
    DEMO_OWNER_USER_ID,
    DEMO_QUEUE_ID,
    DEMO_WORKSTREAM_ID,
    DEMO_WORKSTREAM_ID_SMS,
    DEMO_WORKSTREAM_ID_WEB,
    DEMO_WORKSTREAM_ID_WHATSAPP,
    DEMO_WORKSTREAMS,
    seed_crowd,
    seed_demo,
)
from devtools.dataverse_sim.faults import FAULT_KINDS, OPERATIONS, FaultRule
from devtools.dataverse_sim.privileges import (
    APP_USER_ID,
    BRIDGE_PRIVILEGES,
    BUSINESS_UNIT_ID,
    ORGANIZATION_ID,
    privilege_id,
)
from devtools.dataverse_sim.simulator import (
    DUPLICATE_CODE_DOCUMENTED,
    DUPLICATE_CODE_EMPTY,
    DataverseSimulator,
    RequestRecord,
)

__all__ = [
    "APP_USER_ID",
    "BRIDGE_PRIVILEGES",
    "BUSINESS_UNIT_ID",
    "CROWD_EMAIL",
    "CROWD_PHONE",
    "CROWD_SIZE",
    "DEMO_CONTACTS",
    "DEMO_INACTIVE_CONTACTS",
    "DEMO_INACTIVE_EMAIL",
    "DEMO_INACTIVE_PHONE",
    "DEMO_OWNER_TEAM_ID",
    "DEMO_OWNER_USER_ID",
    "DEMO_QUEUE_ID",
    "DEMO_WORKSTREAMS",
    "DEMO_WORKSTREAM_ID",
    "DEMO_WORKSTREAM_ID_SMS",
    "DEMO_WORKSTREAM_ID_WEB",
    "DEMO_WORKSTREAM_ID_WHATSAPP",
    "DUPLICATE_CODE_DOCUMENTED",
    "DUPLICATE_CODE_EMPTY",
    "FAULT_KINDS",
    "OPERATIONS",
    "ORGANIZATION_ID",
    "DataverseSimulator",
    "FaultRule",
    "RequestRecord",
    "privilege_id",
    "seed_crowd",
    "seed_demo",
]
