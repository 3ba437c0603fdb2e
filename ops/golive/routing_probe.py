"""Step 2 (opt-in, mode work_item): does unified routing pick up a live work item created through
the Web API? One labelled work item on the SMS workstream, built by the worker's own code
(shared/dynamics/work_item.py), watched, then closed and deleted.

Columns watched (msdyn_ocliveworkitem.md): `statuscode` (1 Open, 2 Active, 3 Waiting, 4 Closed,
5 Wrap-up), `msdyn_cdsqueueid` (the queue routing put it in) and `msdyn_activeagentid` (the agent
currently assigned), read back as `_<lookup>_value`. Reading chosen: a queue set means routing
classified the item ("routed"); an agent set or statuscode 2 means a rep was assigned ("offered").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ops.golive import cleanup, clients, labels
from ops.golive.report import Outcome, Reporter, Verdict
from shared.dynamics.contact import ContactMatch, Linkage
from shared.dynamics.rows import create_row, row_path
from shared.dynamics.work_item import CONTEXT_ITEMS_NAV, ENTITY_SET, work_item_id, work_item_payload
from shared.opencx.handoff import Handoff
from shared.platform.settings import Settings

SELECT = "statecode,statuscode,_msdyn_cdsqueueid_value,_msdyn_activeagentid_value,subject"
STATUS = {1: "Open", 2: "Active", 3: "Waiting", 4: "Closed", 5: "Wrap-up", 6: "Resolved", 7: "Scheduled"}


@dataclass(frozen=True)
class Observation:
    statuscode: int | None
    queue_id: str | None
    agent_id: str | None

    @property
    def routed(self) -> bool:
        return bool(self.queue_id)

    @property
    def assigned(self) -> bool:
        return bool(self.agent_id) or self.statuscode == 2

    def describe(self) -> str:
        status = STATUS.get(self.statuscode or 0, str(self.statuscode))
        return f"status {status}, queue {self.queue_id or '-'}, agent {self.agent_id or '-'}"


def probe_handoff(run_id: str) -> Handoff:
    """A handoff that names no customer: nothing about a real person is in the test item."""
    return Handoff(
        handoff_id=f"golive-{run_id}",
        session_id=f"{labels.SESSION_PREFIX}{run_id}",
        channel="sms",
        summary=labels.subject(run_id),
        reason="bridge go-live check",
    )


def probe_payload(run_id: str, workstream_id: str) -> dict[str, Any]:
    payload = work_item_payload(
        probe_handoff(run_id), workstream_id, ContactMatch(None, Linkage.NONE, "probe")
    )
    payload[CONTEXT_ITEMS_NAV].append(
        {"msdyn_name": labels.CONTEXT_NAME, "msdyn_value": run_id, "msdyn_isdisplayable": True}
    )
    return payload


def observe(client: Any, activity_id: str) -> Observation | None:
    answer = client.get(row_path(ENTITY_SET, activity_id), "get_work_item", {"$select": SELECT})
    if not answer.ok:
        return None
    body = answer.body
    return Observation(
        body.get("statuscode"), body.get("_msdyn_cdsqueueid_value"), body.get("_msdyn_activeagentid_value")
    )


def run(
    settings: Settings,
    run_id: str,
    report: Reporter,
    *,
    wait_minutes: float,
    poll_seconds: float = 5.0,
    watch_rep: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    report.section("2. Routing probe (mode work_item)")
    workstream = settings.workstream_for("sms")
    if watch_rep:
        report.say(f"  {watch_rep}: be online (Available) in Customer Service workspace / Copilot Service")
        report.say(f"  workspace; an SMS conversation titled '{labels.PROBE_PREFIX} {run_id}]...' should be")
        report.say("  offered to you within a minute. Do not accept it into a real conversation.")
    client = clients.dataverse(settings)
    activity_id = ""
    try:
        payload = probe_payload(run_id, workstream)
        activity_id = str(payload["activityid"])
        created = create_row(client, ENTITY_SET, "activityid", payload, "create_work_item")
        if not created.ok:
            report.add(Verdict("routing_probe", Outcome.FAIL,
                               f"the test work item could not be created ({created.response.status}: "
                               f"{created.response.error_text})",
                               "Fix the reads above first (privileges, workstream), then run the probe again."))  # fmt: skip
            return
        report.add(Verdict("routing_probe.create", Outcome.INFO,
                           f"created work item {activity_id} on workstream {workstream}"))  # fmt: skip
        seen = _poll(client, activity_id, wait_minutes * 60.0, poll_seconds, sleep)
        report.add(_verdict(seen, wait_minutes))
    finally:
        if activity_id:
            removed = cleanup.remove_work_item(client, activity_id)
            report.add(Verdict("routing_probe.cleanup", Outcome.PASS if removed else Outcome.FAIL,
                               "test work item closed and deleted" if removed else "test work item NOT removed",
                               None if removed else "Run the check again: it removes leftovers first, "
                               f"or delete work items whose subject starts with '{labels.PROBE_PREFIX}'."))  # fmt: skip
        client.close()


def _poll(
    client: Any, activity_id: str, budget: float, every: float, sleep: Callable[[float], None]
) -> Observation | None:
    deadline = time.monotonic() + budget
    seen = observe(client, activity_id)
    while not (seen and seen.assigned) and time.monotonic() < deadline:
        sleep(min(every, max(0.0, deadline - time.monotonic())))
        seen = observe(client, activity_id) or seen
    return seen


def _verdict(seen: Observation | None, wait_minutes: float) -> Verdict:
    if seen is None:
        return Verdict("routing_probe", Outcome.FAIL, "the test work item could not be read back",
                       "Grant prvReadmsdyn_ocliveworkitem to the application user.")  # fmt: skip
    if seen.assigned:
        return Verdict("routing_probe", Outcome.PASS,
                       f"unified routing picked it up and assigned a rep ({seen.describe()})")  # fmt: skip
    if seen.routed:
        return Verdict("routing_probe", Outcome.WARN,
                       f"routed to a queue but no rep was assigned within {wait_minutes:g} min ({seen.describe()})",
                       "Routing works; have a rep with capacity be Available in that queue and run again.")  # fmt: skip
    return Verdict("routing_probe", Outcome.FAIL,
                   f"unified routing did not touch it within {wait_minutes:g} min ({seen.describe()})",
                   "Work items created through the Web API are not being routed: check the SMS workstream's "
                   "routing rules and queue, that unified routing is on for it, and that the workstream "
                   "is a messaging workstream; else use DELIVERY_MODE=messaging (docs/messaging.md).")  # fmt: skip


__all__ = ["Observation", "probe_payload", "run", "work_item_id"]
