"""A Dataverse Web API simulator on loopback, for tests, demos and benchmarks of the handoff bridge.

It implements exactly the DESIGN section 4 operations (contact lookup, workstream read, deep-insert
create of msdyn_ocliveworkitems), the App Service managed-identity token endpoint azure-identity uses
when IDENTITY_ENDPOINT / IDENTITY_HEADER are set, injectable faults, and a `/_sim/` admin API.

    with DataverseSimulator() as sim:
        workstream = sim.add_workstream()
        os.environ.update(sim.env())
"""

from devtools.dataverse_sim.demo import DEMO_CONTACTS, DEMO_WORKSTREAM_ID, seed_demo
from devtools.dataverse_sim.faults import FAULT_KINDS, OPERATIONS, FaultRule
from devtools.dataverse_sim.simulator import DataverseSimulator, RequestRecord

__all__ = [
    "DEMO_CONTACTS",
    "DEMO_WORKSTREAM_ID",
    "FAULT_KINDS",
    "OPERATIONS",
    "DataverseSimulator",
    "FaultRule",
    "RequestRecord",
    "seed_demo",
]
