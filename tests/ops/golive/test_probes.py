"""Each probe's success and failure path against the local stack; a full run leaves nothing behind.

The webhook token probe goes through the bridge's real messaging webhook (the runner's
/api/messaging/v3/conversations/{id}/activities): the Messaging API simulator's scripted rep posts
there with tokens it mints, and the webhook accepts or refuses them and records what they carried.
"""

from __future__ import annotations

import io
from pathlib import Path

from golive_support import SESSION_ID, messaging_sim, outcome, run, text

from devtools.stack import Stack
from ops.golive import cli, source
from ops.golive.local import apply_environment, leftovers, load
from ops.golive.report import Outcome, Reporter

NOTHING_LEFT = {"probe work items": 0, "active conversations": 0, "messaging table rows": 0}


def test_full_work_item_run_passes_and_leaves_nothing(stack: Stack) -> None:
    code, report = run(stack, "--routing-probe", "--send-probe", "--session", SESSION_ID)
    assert code == 0, text(report)
    assert outcome(report, "routing_probe") is Outcome.PASS
    assert outcome(report, "routing_probe.cleanup") is Outcome.PASS
    assert outcome(report, "send_probe") is Outcome.PASS
    assert "set OPENCX_AGENT_SENDER=human_agent" in text(report)  # "agent" refused, the next one works
    assert stack.opencx is not None
    assert [m.body["sender"] for m in stack.opencx.sent_to(SESSION_ID)] == ["human_agent"]
    assert leftovers(stack) == NOTHING_LEFT


def test_routing_off_fails_with_a_fix_and_still_removes_the_item(stack: Stack) -> None:
    assert stack.simulator is not None
    stack.simulator.set_routing(False)
    code, report = run(stack, "--routing-probe")
    assert code == 1
    assert outcome(report, "routing_probe") is Outcome.FAIL
    assert "did not touch it" in text(report) and "fix:" in text(report)
    assert outcome(report, "routing_probe.cleanup") is Outcome.PASS
    assert stack.simulator.work_items == []


def test_every_sender_refused_fails(stack: Stack) -> None:
    assert stack.opencx is not None
    stack.opencx.accepted_senders = frozenset({"contact"})
    code, report = run(stack, "--send-probe", "--session", SESSION_ID)
    assert code == 1
    assert outcome(report, "send_probe") is Outcome.FAIL
    assert stack.opencx.sent_to(SESSION_ID) == []


def _run_asking(stack: Stack, tmp_path: Path, answers: list[str], *argv: str) -> tuple[int, Reporter]:
    loaded = load(stack, tmp_path)
    apply_environment(loaded.values)
    replies = iter(answers)
    report = Reporter(io.StringIO())
    code = cli.run(cli.parser().parse_args(list(argv)), source.validate(loaded.values), loaded, report,
                   input_fn=lambda _q: next(replies))  # fmt: skip
    return code, report


def test_message_not_arriving_fails(stack: Stack, tmp_path: Path) -> None:
    # yes to the writes, no to "did it arrive?"
    code, report = _run_asking(stack, tmp_path, ["y", "n"], "--send-probe", "--session", SESSION_ID)
    assert code == 1 and outcome(report, "send_probe") is Outcome.FAIL


def test_declining_the_plan_writes_nothing(stack: Stack, tmp_path: Path) -> None:
    argv = ("--routing-probe", "--send-probe", "--session", SESSION_ID)
    code, _ = _run_asking(stack, tmp_path, ["n"], *argv)
    assert code == 1
    assert stack.simulator is not None and stack.simulator.work_items == []
    assert stack.opencx is not None and stack.opencx.sent_to(SESSION_ID) == []


def test_settings_are_the_ones_the_runner_was_started_with(messaging_stack: Stack, tmp_path: Path) -> None:
    loaded = load(messaging_stack, tmp_path)
    assert loaded.values == messaging_stack.app_settings()
    assert source.validate(loaded.values).mode.value == "messaging"
    assert (tmp_path / "local.settings.messaging.json").exists()


def test_webhook_token_matching_passes_and_is_cleaned(messaging_stack: Stack) -> None:
    sim = messaging_sim(messaging_stack)
    code, report = run(messaging_stack)
    assert code == 0, text(report)
    assert outcome(report, "webhook_probe") is Outcome.PASS
    assert f"MESSAGING_WEBHOOK_AUDIENCE={sim.audience}" in text(report)
    assert f"MESSAGING_WEBHOOK_APP_ID={sim.app_id}" in text(report)
    # The real webhook answered the rep's deliveries (the greeting went into its outbox, then away).
    assert sim.rep.wait_delivered(15)
    assert 200 in {status for d in sim.rep.deliveries for status in d.statuses}
    assert outcome(report, "webhook_probe.cleanup") is Outcome.PASS
    assert leftovers(messaging_stack) == NOTHING_LEFT


def test_webhook_token_with_another_audience_names_the_setting(messaging_stack: Stack) -> None:
    sim = messaging_sim(messaging_stack)
    sim.rep.token_kind = "wrong_audience"  # Microsoft's token carries another audience
    wrong = "api://someone-else"  # what the simulator's "wrong_audience" tokens carry (messaging_sim/rep.py)
    code, report = run(messaging_stack)
    assert code == 1
    assert outcome(report, "webhook_probe") is Outcome.FAIL
    assert "REFUSED" in text(report) and "wrong_audience" in text(report)
    assert "Check MESSAGING_WEBHOOK_AUDIENCE" in text(report)
    assert f"MESSAGING_WEBHOOK_AUDIENCE={wrong}" in text(report) and wrong != sim.audience
    assert sim.rep.wait_delivered(15)
    assert {status for d in sim.rep.deliveries for status in d.statuses} == {401}  # the real webhook refused
    assert leftovers(messaging_stack) == NOTHING_LEFT


def test_webhook_token_of_another_app_names_the_app_id_setting(messaging_stack: Stack) -> None:
    from devtools.messaging_sim.rep import OTHER_APP_ID

    sim = messaging_sim(messaging_stack)
    sim.rep.token_kind = "other_app"  # the channel calls with another app registration's token
    code, report = run(messaging_stack)
    assert code == 1
    assert outcome(report, "webhook_probe") is Outcome.FAIL
    assert "REFUSED" in text(report) and f"its app {OTHER_APP_ID} is not MESSAGING_WEBHOOK_APP_ID" in text(
        report
    )
    assert f"Set MESSAGING_WEBHOOK_APP_ID={OTHER_APP_ID}" in text(report)
    assert sim.rep.wait_delivered(15)
    assert {status for d in sim.rep.deliveries for status in d.statuses} == {401}
    assert leftovers(messaging_stack) == NOTHING_LEFT


def test_webhook_token_of_another_tenant_names_the_tenant_setting(messaging_stack: Stack) -> None:
    sim = messaging_sim(messaging_stack)
    sim.rep.token_kind = "wrong_tenant"
    code, report = run(messaging_stack)
    assert code == 1
    assert outcome(report, "webhook_probe") is Outcome.FAIL
    assert "Check MESSAGING_TENANT_ID" in text(report) and "MESSAGING_TENANT_ID=another-tenant" in text(
        report
    )
    assert leftovers(messaging_stack) == NOTHING_LEFT


def test_no_token_within_the_wait_fails_and_still_ends_the_conversation(messaging_stack: Stack) -> None:
    sim = messaging_sim(messaging_stack)
    sim.rep.auto_accept = False  # nobody accepts: Microsoft never calls the webhook
    code, report = run(messaging_stack, "--token-wait-seconds", "2")
    assert code == 1
    assert outcome(report, "webhook_probe") is Outcome.FAIL
    assert "recorded no token within 2 s" in text(report)
    assert sim.rep.deliveries == []
    assert leftovers(messaging_stack) == NOTHING_LEFT


def test_a_conversation_that_cannot_start_fails_with_the_channel_fix(messaging_stack: Stack) -> None:
    messaging_sim(messaging_stack).channel_configured = False
    code, report = run(messaging_stack)
    assert code == 1
    assert outcome(report, "webhook_probe") is Outcome.FAIL
    assert "MESSAGING_CHANNEL_ID is not a configured channel" in text(report)
