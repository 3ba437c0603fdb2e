"""Unified routing, played: a switch that makes a created live work item look picked up, or not.

Real routing happens inside Dynamics and no API call triggers it, so the go-live check
(ops/golive) can only watch a work item for its effects. The columns watched are the ones
Microsoft's msdyn_ocliveworkitem reference names (MicrosoftDocs/dynamics-365-customer-engagement,
.../reference/entities/msdyn_ocliveworkitem.md): `msdyn_cdsqueueid` (Lookup to queue, "Queue"),
`msdyn_activeagentid` (Lookup to systemuser, "the agent currently assigned"), and `statuscode`
(1 Open, 2 Active, 3 Waiting, 4 Closed, 5 Wrap-up). Lookups read back as `_<name>_value`.

When `enabled`, a work item created on a workstream with a target gets, once `delay` seconds have
passed since its create, the target's queue, its agent (if any) and statuscode 2 Active (1 Open
with a queue but no agent). When off, or on a workstream without a target, nothing changes.

The workstream's `msdyn_streamsource` (the reference's "Channel": 192340000 SMS, 192300000
WhatsApp, 192360000 Live chat, 192350000 Entity Records, 192350002 Custom, ...) is kept here too,
so a check can read which channel a workstream serves. Unset: the simulator answers null.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from devtools.dataverse_sim.odata import CODE_BAD_QUERY, ODataError

STATUS_ACTIVE, STATUS_OPEN = 2, 1
STREAMSOURCE = "msdyn_streamsource"


class RouteTarget(NamedTuple):
    """Where routing sends a workstream's work items: a queue, and optionally a rep who takes them."""

    queue_id: str
    agent_id: str | None = None


@dataclass
class Routing:
    """The routing switch and its per-workstream targets. Guarded by the store's lock."""

    enabled: bool = False
    delay: float = 0.5
    targets: dict[str, RouteTarget] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)  # workstream id -> msdyn_streamsource
    created: dict[str, float] = field(default_factory=dict)  # activityid -> monotonic create time

    def clear(self) -> None:
        self.enabled = False
        self.delay = 0.5
        self.targets.clear()
        self.sources.clear()
        self.created.clear()

    def note_created(self, activity_id: str) -> None:
        self.created[activity_id] = time.monotonic()

    def apply(self, row: dict[str, Any]) -> None:
        """Route `row` in place when routing is on, its workstream has a target and the delay passed."""
        if not self.enabled or row.get("routed") or row.get("statecode") != 0:
            return
        target = self.targets.get(str(row.get("workstream_id")))
        created = self.created.get(str(row.get("activityid")))
        if target is None or created is None or time.monotonic() - created < self.delay:
            return
        row.update(
            routed=True,
            queue_id=target.queue_id,
            agent_id=target.agent_id,
            statuscode=STATUS_ACTIVE if target.agent_id else STATUS_OPEN,
        )


def subject_prefix(filter_text: str) -> str:
    """The one `$filter` a work-item listing supports: `startswith(subject,'<prefix>')`."""
    text = filter_text.strip()
    head = "startswith(subject,"
    if not (text.lower().startswith(head) and text.endswith(")")):
        raise ODataError(
            400, CODE_BAD_QUERY, "Only startswith(subject,'<text>') is supported on msdyn_ocliveworkitems."
        )
    literal = text[len(head) : -1].strip()
    if len(literal) < 2 or not (literal.startswith("'") and literal.endswith("'")):
        raise ODataError(400, CODE_BAD_QUERY, "startswith needs a quoted string literal.")
    return literal[1:-1].replace("''", "'")
