"""Each probe's success and failure path against the simulators; a full run leaves nothing behind."""

from __future__ import annotations

from golive_support import outcome, run, text

from devtools.golive.local import LocalStack
from devtools.golive.report import Outcome


def test_full_work_item_run_passes_and_leaves_nothing(stack: LocalStack) -> None:
    session = stack.session_id
    code, report = run(stack, "work_item", "--routing-probe", "--send-probe", "--session", session)
    assert code == 0, text(report)
    assert outcome(report, "routing_probe") is Outcome.PASS
    assert outcome(report, "routing_probe.cleanup") is Outcome.PASS
    assert outcome(report, "send_probe") is Outcome.PASS
    assert "set OPENCX_AGENT_SENDER=human_agent" in text(report)  # "agent" refused, the next one works
    opencx = stack.parts["opencx"]
    assert [m.body["sender"] for m in opencx.sent_to(session)] == ["human_agent"]
    assert stack.leftovers(stack.values("work_item")) == {
        "probe work items": 0,
        "active conversations": 0,
        "messaging table rows": 0,
    }


def test_routing_off_fails_with_a_fix_and_still_removes_the_item(stack: LocalStack) -> None:
    stack.parts["dataverse"].set_routing(False)
    code, report = run(stack, "work_item", "--routing-probe")
    assert code == 1
    assert outcome(report, "routing_probe") is Outcome.FAIL
    assert "did not touch it" in text(report) and "fix:" in text(report)
    assert outcome(report, "routing_probe.cleanup") is Outcome.PASS
    assert stack.parts["dataverse"].work_items == []


def test_every_sender_refused_fails(stack: LocalStack) -> None:
    stack.parts["opencx"].accepted_senders = frozenset({"contact"})
    code, report = run(stack, "work_item", "--send-probe", "--session", stack.session_id)
    assert code == 1
    assert outcome(report, "send_probe") is Outcome.FAIL
    assert stack.parts["opencx"].sent_to(stack.session_id) == []


def test_message_not_arriving_fails(stack: LocalStack) -> None:
    import io

    from devtools.golive import cli, source
    from devtools.golive.local import apply_environment
    from devtools.golive.report import Reporter

    values = stack.values("work_item")
    apply_environment(values)
    args = cli.parser().parse_args(["--send-probe", "--session", stack.session_id])
    answers = iter(["y", "n"])  # yes to the writes, no to "did it arrive?"
    report = Reporter(io.StringIO())
    code = cli.run(args, source.validate(values), source.Loaded(values, "test"), report,
                   input_fn=lambda _q: next(answers))  # fmt: skip
    assert code == 1 and outcome(report, "send_probe") is Outcome.FAIL


def test_declining_the_plan_writes_nothing(stack: LocalStack) -> None:
    import io

    from devtools.golive import cli, source
    from devtools.golive.local import apply_environment
    from devtools.golive.report import Reporter

    values = stack.values("work_item")
    apply_environment(values)
    args = cli.parser().parse_args(["--routing-probe", "--send-probe", "--session", stack.session_id])
    code = cli.run(args, source.validate(values), source.Loaded(values, "test"), Reporter(io.StringIO()),
                   input_fn=lambda _q: "n")  # fmt: skip
    assert code == 1
    assert stack.parts["dataverse"].work_items == []
    assert stack.parts["opencx"].sent_to(stack.session_id) == []


def test_webhook_token_matching_passes_and_is_cleaned(stack: LocalStack) -> None:
    code, report = run(stack, "messaging")
    assert code == 0, text(report)
    assert outcome(report, "webhook_probe") is Outcome.PASS
    messaging = stack.parts["messaging"]
    assert f"MESSAGING_WEBHOOK_AUDIENCE={messaging.audience}" in text(report)
    assert stack.leftovers(stack.values("messaging"))["active conversations"] == 0
    assert stack.leftovers(stack.values("messaging"))["messaging table rows"] == 0


def test_webhook_token_with_another_audience_names_the_setting(stack: LocalStack) -> None:
    code, report = run(stack, "messaging", audience_setting="api://not-the-one-microsoft-uses")
    assert code == 1
    assert outcome(report, "webhook_probe") is Outcome.FAIL
    messaging = stack.parts["messaging"]
    assert "wrong_audience" in text(report)
    assert f"MESSAGING_WEBHOOK_AUDIENCE={messaging.audience}" in text(report)
    assert stack.leftovers(stack.values("messaging")) == {
        "probe work items": 0,
        "active conversations": 0,
        "messaging table rows": 0,
    }
