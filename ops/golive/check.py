"""One pass of the check: plan -> confirmation -> cleanup of earlier runs -> steps -> verdict.

Shared by the command line (cli.py) and `--local` (local.py), so neither imports the other.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ops.golive import cleanup, labels, plan, reads, routing_probe, send_probe, source, webhook_probe
from ops.golive.report import Outcome, Reporter, Verdict
from shared.platform.settings import DeliveryMode


def run(
    args: argparse.Namespace,
    app: source.AppSettings,
    loaded: source.Loaded,
    report: Reporter,
    *,
    input_fn: Callable[[str], str] = input,
    run_id: str | None = None,
) -> int:
    settings, mode = app.settings, app.mode
    run_id = run_id or labels.new_run_id()
    confirm = (lambda _question: True) if args.yes else plan.ask(input_fn)
    choices = plan.Choices(
        routing_probe=bool(args.routing_probe) and mode is DeliveryMode.WORK_ITEM,
        send_probe=bool(args.send_probe),
        session_id=args.session,
        webhook_probe=mode is DeliveryMode.MESSAGING and not args.skip_webhook_probe,
        wait_minutes=args.wait_minutes,
        token_wait_seconds=args.token_wait_seconds,
        watch_rep=args.watch_rep,
    )
    for line in plan.lines(settings, mode, loaded.origin, run_id, choices):
        report.say(line)
    for setting, why in loaded.unresolved.items():
        report.add(
            Verdict(f"setting {setting}", Outcome.FAIL, "a Key Vault reference could not be read", why)
        )
    if args.routing_probe and mode is not DeliveryMode.WORK_ITEM:
        report.add(Verdict("routing_probe", Outcome.SKIP, "mode messaging creates no work items"))
    if choices.send_probe and not choices.session_id:
        report.add(Verdict("send_probe", Outcome.FAIL, "--send-probe needs --session <OpenCX session id>",
                           "Start a conversation from your own phone and pass its session id."))  # fmt: skip
        choices = plan.Choices(**{**choices.__dict__, "send_probe": False})
    if plan.writes(choices) and not confirm("Go ahead with the writes above?"):
        report.say("Nothing was written. Run again without the probes for the reads only.")
        return 1

    reads.run(settings, mode, report, args.app_user_id)
    token_ok = any(v.step == "dataverse_token" and v.outcome is Outcome.PASS for v in report.verdicts)
    if plan.writes(choices):
        report.section("0. Leftovers of earlier runs")
        cleanup.sweep(settings, mode, report, dataverse_reachable=token_ok)
    if choices.routing_probe:
        if token_ok:
            routing_probe.run(
                settings, run_id, report, wait_minutes=choices.wait_minutes, watch_rep=args.watch_rep
            )
        else:
            report.add(Verdict("routing_probe", Outcome.SKIP, "no Dataverse token"))
    if choices.send_probe and choices.session_id:
        extra = tuple(form.strip() for form in args.sender_forms.split(",") if form.strip())
        send_probe.run(settings, run_id, choices.session_id, report, confirm, forms=extra)
    if choices.webhook_probe:
        webhook_probe.run(settings, run_id, report, wait_seconds=choices.token_wait_seconds)
    report.summary()
    return 1 if report.failed else 0
