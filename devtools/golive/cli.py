"""Arguments, then: settings -> plan -> confirmation -> cleanup of earlier runs -> steps -> verdict.

Exit code 0 when no step failed, 1 when one did, 2 when the settings could not be read.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from devtools.golive import cleanup, labels, plan, reads, routing_probe, send_probe, source, webhook_probe
from devtools.golive.report import Outcome, Reporter, Verdict
from shared.platform.settings import DeliveryMode, SettingsError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devtools.golive", description=__doc__)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--settings", type=Path, help="a local.settings.json whose Values to read")
    where.add_argument("--from-app", metavar="NAME", help="read a deployed Function App's settings with az")
    where.add_argument("--local", action="store_true",
                       help="start the local stack (simulators, Azurite) and run every step against it")  # fmt: skip
    p.add_argument("--resource-group", help="the app's resource group (with --from-app)")
    p.add_argument("--routing-probe", action="store_true", help="step 2: create and watch one test work item")
    p.add_argument("--wait-minutes", type=float, default=3.0, help="how long step 2 watches (default 3)")
    p.add_argument("--watch-rep", metavar="NAME", help="a rep who is online to watch the test item arrive")
    p.add_argument("--send-probe", action="store_true", help="step 3: send one message as the agent")
    p.add_argument("--session", help="the OpenCX session id for step 3 (a conversation from your own phone)")
    p.add_argument("--sender-forms", default="", help="extra sender values to try first, comma-separated")
    p.add_argument("--skip-webhook-probe", action="store_true", help="do not run step 4 in mode messaging")
    p.add_argument(
        "--token-wait-seconds", type=float, default=120.0, help="how long step 4 waits (default 120)"
    )
    p.add_argument("--app-user-id", help="the application user's systemuserid (privileges read for it)")
    p.add_argument("--yes", action="store_true", help="assume yes to every question (tests, CI)")
    return p


def main(argv: Sequence[str] | None = None, *, input_fn: Callable[[str], str] = input) -> int:
    args = parser().parse_args(argv)
    # The clients log every call; a 404 the check asks for on purpose is not news to the admin.
    logging.getLogger("handoff_bridge").setLevel(logging.ERROR)
    if args.local:
        from devtools.golive.local import run_local

        return run_local(args)
    report = Reporter()
    try:
        loaded = _load(args)
        app = source.validate(loaded.values)
    except (source.SourceError, SettingsError) as exc:
        print(f"go-live check: cannot read the settings: {exc}", file=sys.stderr)
        return 2
    return run(args, app, loaded, report, input_fn=input_fn)


def _load(args: argparse.Namespace) -> source.Loaded:
    if args.from_app:
        if not args.resource_group:
            raise source.SourceError("--from-app needs --resource-group")
        return source.from_app(args.from_app, args.resource_group)
    if args.settings:
        return source.from_file(args.settings)
    default = Path("local.settings.json")
    return source.from_file(default) if default.exists() else source.from_environment()


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
