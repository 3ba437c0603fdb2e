"""A second run removes what a crashed first run left; the reads fail where the tenant is wrong."""

from __future__ import annotations

from golive_support import outcome, run, text

from devtools.dataverse_sim import DEMO_WORKSTREAMS
from devtools.golive import cleanup, source
from devtools.golive.local import LocalStack, apply_environment
from devtools.golive.report import Outcome


def test_leftovers_of_a_crashed_run_are_removed(stack: LocalStack) -> None:
    from devtools.golive import clients, routing_probe
    from shared.dynamics.rows import create_row
    from shared.dynamics.work_item import ENTITY_SET

    values = stack.values("messaging")
    apply_environment(values)
    settings = source.validate(values).settings
    dataverse = clients.dataverse(settings)
    assert create_row(dataverse, ENTITY_SET, "activityid", routing_probe.probe_payload("crashed1", DEMO_WORKSTREAMS["sms"]), "create_work_item").ok  # fmt: skip
    dataverse.close()
    messaging = clients.messaging(settings)
    conversation = messaging.create_conversation({"customerid": "bridge-golive-crashed1"}).conversation_id
    assert conversation
    cleanup.mark_conversation(settings, conversation, "crashed1")
    code, report = run(stack, "messaging")
    assert code == 0, text(report)
    assert outcome(report, "cleanup.work_item") is Outcome.PASS
    assert outcome(report, "cleanup.conversation") is Outcome.PASS
    assert stack.parts["dataverse"].work_items == []
    assert stack.parts["messaging"].conversation(conversation)["active"] is False
    assert stack.leftovers(values)["messaging table rows"] == 0


def test_a_record_routing_workstream_fails_the_reads(stack: LocalStack) -> None:
    stack.parts["dataverse"].set_streamsource(DEMO_WORKSTREAMS["whatsapp"], 192350000)
    code, report = run(stack, "work_item")
    assert code == 1
    assert outcome(report, f"workstream {DEMO_WORKSTREAMS['whatsapp']}") is Outcome.FAIL
    assert "record-routing" in text(report)


def test_a_missing_privilege_is_named(stack: LocalStack) -> None:
    stack.parts["dataverse"].revoke_privilege("prvCreatemsdyn_ocliveworkitem")
    code, report = run(stack, "work_item")
    assert code == 1
    assert outcome(report, "dataverse_privileges") is Outcome.FAIL
    assert "prvCreatemsdyn_ocliveworkitem" in text(report)


def test_a_key_without_write_scope_warns_in_work_item_mode(stack: LocalStack) -> None:
    opencx = stack.parts["opencx"]
    opencx.add_key(opencx.api_key, ["chat-sessions:read"])
    code, report = run(stack, "work_item")
    assert outcome(report, "opencx_write_scope") is Outcome.WARN
    assert code == 0
