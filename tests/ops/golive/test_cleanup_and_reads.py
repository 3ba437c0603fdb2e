"""A second run removes what a crashed first run left; the reads fail where the tenant is wrong."""

from __future__ import annotations

from pathlib import Path

from golive_support import messaging_sim, outcome, run, text

from devtools.dataverse_sim import DEMO_WORKSTREAMS
from devtools.stack import Stack
from ops.golive import cleanup, source
from ops.golive.local import apply_environment, leftovers, load
from ops.golive.report import Outcome
from shared.platform.status_store import encode_key


def _partition_rows(settings, conversation_id: str) -> int:  # type: ignore[no-untyped-def]
    table = cleanup._table(settings)
    try:
        rows = table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": "c|" + encode_key(conversation_id)}
        )
        return len(list(rows))
    finally:
        table.close()


def test_leftovers_of_a_crashed_run_are_removed(messaging_stack: Stack, tmp_path: Path) -> None:
    from ops.golive import clients, routing_probe
    from shared.dynamics.rows import create_row
    from shared.dynamics.work_item import ENTITY_SET

    loaded = load(messaging_stack, tmp_path)
    apply_environment(loaded.values)
    settings = source.validate(loaded.values).settings
    dataverse = clients.dataverse(settings)
    assert create_row(dataverse, ENTITY_SET, "activityid", routing_probe.probe_payload("crashed1", DEMO_WORKSTREAMS["sms"]), "create_work_item").ok  # fmt: skip
    dataverse.close()
    messaging = clients.messaging(settings)
    conversation = messaging.create_conversation({"customerid": "bridge-golive-crashed1"}).conversation_id
    messaging.session.close()
    assert conversation
    cleanup.mark_conversation(settings, conversation, "crashed1")
    # The crashed run's conversation was accepted: the real webhook stored the rep's greeting for it.
    sim = messaging_sim(messaging_stack)
    assert sim.rep.wait_delivered(15)
    assert _partition_rows(settings, conversation) > 0
    code, report = run(messaging_stack)
    assert code == 0, text(report)
    assert outcome(report, "cleanup.work_item") is Outcome.PASS
    assert outcome(report, "cleanup.conversation") is Outcome.PASS
    assert messaging_stack.simulator is not None and messaging_stack.simulator.work_items == []
    found = sim.conversation(conversation)
    assert found is not None and found["active"] is False
    assert leftovers(messaging_stack)["messaging table rows"] == 0


def test_a_record_routing_workstream_fails_the_reads(stack: Stack) -> None:
    assert stack.simulator is not None
    stack.simulator.set_streamsource(DEMO_WORKSTREAMS["whatsapp"], 192350000)
    code, report = run(stack)
    assert code == 1
    assert outcome(report, f"workstream {DEMO_WORKSTREAMS['whatsapp']}") is Outcome.FAIL
    assert "record-routing" in text(report)


def test_a_missing_privilege_is_named(stack: Stack) -> None:
    assert stack.simulator is not None
    stack.simulator.revoke_privilege("prvCreatemsdyn_ocliveworkitem")
    code, report = run(stack)
    assert code == 1
    assert outcome(report, "dataverse_privileges") is Outcome.FAIL
    assert "prvCreatemsdyn_ocliveworkitem" in text(report)


def test_a_key_without_write_scope_warns_in_work_item_mode(stack: Stack) -> None:
    opencx = stack.opencx
    assert opencx is not None
    opencx.add_key(opencx.api_key, ["chat-sessions:read"])
    code, report = run(stack)
    assert outcome(report, "opencx_write_scope") is Outcome.WARN
    assert code == 0


def test_cleanup_sweeps_again_until_a_late_write_is_gone(azurite) -> None:  # type: ignore[no-untyped-def]
    from shared.platform.settings import load_settings

    settings = load_settings({
        "DATAVERSE_URL": "http://127.0.0.1:9", "DEFAULT_QUEUE_ID": "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b5c",
        "OPENCX_API_KEY": "k", "AzureWebJobsStorage": azurite.connection_string, "MESSAGING_TABLE": "golivesettle",
    })  # fmt: skip
    conversation = "conv-late"
    cleanup.mark_conversation(settings, conversation, "late1")
    table = cleanup._table(settings)
    late = {"PartitionKey": "c|" + encode_key(conversation), "RowKey": "lock|c", "holder": "relay"}
    table.upsert_entity(late)
    writes = iter([True, True])  # the relay re-writes its lock row during the first two pauses

    def pause(_seconds: float) -> None:
        if next(writes, False):
            table.upsert_entity(late)

    assert cleanup.forget_conversation(settings, conversation) == 1
    assert cleanup.settle(settings, conversation, pause=0, sleep=pause) is True
    assert _partition_rows(settings, conversation) == 0
    assert cleanup.marked_conversations(settings) == []
    writes = iter([True] * 10)  # it keeps coming: settle gives up after its rounds and says so
    assert cleanup.settle(settings, conversation, pause=0, rounds=3, sleep=pause) is False
    table.close()


def test_the_reconcile_timers_own_row_is_not_a_leftover(messaging_stack: Stack) -> None:
    """The timer records its last sweep in the messaging table whenever it fires; no probe left that."""
    from azure.data.tables import TableServiceClient

    from shared.messaging.reconcile import SWEEP_PK, SWEEP_RK

    assert messaging_stack.azurite is not None
    table_name = source.validate(messaging_stack.app_settings()).settings.messaging_table
    with TableServiceClient.from_connection_string(messaging_stack.azurite.connection_string) as service:
        table = service.create_table_if_not_exists(table_name)
        table.upsert_entity({"PartitionKey": SWEEP_PK, "RowKey": SWEEP_RK, "at": 1.0})
        assert leftovers(messaging_stack)["messaging table rows"] == 0
        table.upsert_entity({"PartitionKey": "c|left-behind", "RowKey": "link"})
        assert leftovers(messaging_stack)["messaging table rows"] == 1
