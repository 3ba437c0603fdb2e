"""Finding what a probe created by its label and removing it, also what a crashed run left.

- Work items: those whose subject starts with labels.PROBE_PREFIX, found with
  `$filter=startswith(subject,'...')`, closed (statecode 1 / statuscode 4) then deleted. Their
  context items are created by deep insert as children; reading chosen: they go with the work item
  (the simulator does so; on a real tenant, a leftover context item carries only the run id).
- Test conversations (mode messaging): before starting one, the probe writes a marker row
  (PartitionKey "golive", RowKey "conversation|<id>") in the messaging table. Cleanup ends each
  marked conversation, deletes whatever the webhook stored for it (partition `c|<id>`, the
  mapping/outbox layout of shared/messaging/mapping.py) and the marker; then the recorded token row.
  The rep's side may still be talking when the conversation ends (an activity in flight, the relay's
  drain of an unmapped greeting re-writing its lock row), so the partition is swept again until one
  sweep finds it empty, a bounded number of times (`settle`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from ops.golive import clients, labels
from ops.golive.report import Outcome, Reporter, Verdict
from shared.dynamics.rows import row_path
from shared.dynamics.work_item import ENTITY_SET
from shared.messaging import token_probe
from shared.platform.settings import DeliveryMode, Settings
from shared.platform.status_store import StoreProfile, encode_key, make_table_client

MARKER_PARTITION = token_probe.PARTITION
MARKER_PREFIX = "conversation|"
SETTLE_SECONDS = 2.0  # far longer than the relay's unmapped-retry pause and one drain
SETTLE_ROUNDS = 5


def remove_work_item(client: Any, activity_id: str) -> bool:
    path = row_path(ENTITY_SET, activity_id)
    client.patch(path, "update_work_item", {"statecode": 1, "statuscode": 4})  # may already be closed
    answer = client.request("DELETE", path, "delete_work_item")
    return answer.status in (200, 204, 404)


def leftover_work_items(client: Any) -> list[str] | None:
    prefix = labels.PROBE_PREFIX.replace("'", "''")
    answer = client.get(
        ENTITY_SET,
        "list_work_items",
        {"$filter": f"startswith(subject,'{prefix}')", "$select": "activityid,subject", "$top": "50"},
    )
    if not answer.ok:
        return None
    return [str(row["activityid"]) for row in answer.body.get("value", []) if row.get("activityid")]


def _table(settings: Settings) -> Any:
    return make_table_client(settings.storage, settings.messaging_table, StoreProfile.WORKER)


def mark_conversation(settings: Settings, conversation_id: str, run_id: str) -> None:
    from azure.core.exceptions import ResourceExistsError

    table = _table(settings)
    try:
        with contextlib.suppress(ResourceExistsError):
            table.create_table()
        table.upsert_entity(
            {"PartitionKey": MARKER_PARTITION, "RowKey": MARKER_PREFIX + encode_key(conversation_id),
             "conversationId": conversation_id, "runId": run_id}
        )  # fmt: skip
    finally:
        table.close()


def marked_conversations(settings: Settings) -> list[str]:
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    table = _table(settings)
    try:
        rows = table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": MARKER_PARTITION, "lo": MARKER_PREFIX, "hi": MARKER_PREFIX[:-1] + "}"},
        )
        return [str(row["conversationId"]) for row in rows if row.get("conversationId")]
    except (ResourceNotFoundError, AzureError):
        return []
    finally:
        table.close()


def forget_conversation(settings: Settings, conversation_id: str) -> int:
    """Delete the marker and every row stored for the conversation; returns how many rows went."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    table = _table(settings)
    removed = 0
    try:
        partition = "c|" + encode_key(conversation_id)
        for row in list(table.query_entities("PartitionKey eq @pk", parameters={"pk": partition})):
            with contextlib.suppress(ResourceNotFoundError):
                table.delete_entity(row["PartitionKey"], row["RowKey"])
            removed += 1
        with contextlib.suppress(ResourceNotFoundError):
            table.delete_entity(MARKER_PARTITION, MARKER_PREFIX + encode_key(conversation_id))
    except ResourceNotFoundError:
        pass
    except AzureError:
        return removed
    finally:
        table.close()
    return removed


def settle(
    settings: Settings,
    conversation_id: str,
    *,
    pause: float = SETTLE_SECONDS,
    rounds: int = SETTLE_ROUNDS,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Sweep the conversation's rows again until a sweep after `pause` finds none; False if it never did."""
    for _ in range(rounds):
        sleep(pause)
        if forget_conversation(settings, conversation_id) == 0:
            return True
    return False


def end_and_forget(settings: Settings, conversation_id: str) -> bool:
    client = clients.messaging(settings)
    try:
        answer = client.end_conversation(conversation_id)
    finally:
        client.session.close()
    forget_conversation(settings, conversation_id)
    settle(settings, conversation_id)
    return answer.ok or answer.conversation_gone


def sweep(
    settings: Settings, mode: DeliveryMode, report: Reporter, *, dataverse_reachable: bool = True
) -> None:
    """Remove what earlier runs left: a second run starts clean even after a crash."""
    found = 0
    if dataverse_reachable:
        client = clients.dataverse(settings)
        try:
            leftovers = leftover_work_items(client)
            if leftovers is None:
                report.add(Verdict("cleanup.work_items", Outcome.WARN, "could not list earlier probe work items",
                                   f"Delete work items whose subject starts with '{labels.PROBE_PREFIX}' by hand."))  # fmt: skip
            for activity_id in leftovers or []:
                found += 1
                ok = remove_work_item(client, activity_id)
                report.add(Verdict("cleanup.work_item", Outcome.PASS if ok else Outcome.FAIL,
                                   f"{'removed' if ok else 'could not remove'} leftover {activity_id}",
                                   None if ok else "Delete it by hand in Dynamics."))  # fmt: skip
        finally:
            client.close()
    if mode is DeliveryMode.MESSAGING or marked_conversations(settings):
        for conversation_id in marked_conversations(settings):
            found += 1
            ok = end_and_forget(settings, conversation_id)
            report.add(Verdict("cleanup.conversation", Outcome.PASS if ok else Outcome.WARN,
                               f"{'ended' if ok else 'could not end'} leftover test conversation {conversation_id}",
                               None if ok else "It closes on its own after inactivity."))  # fmt: skip
        token_probe.clear_claims(settings)
    if not found:
        report.say("  nothing left over from earlier runs")
