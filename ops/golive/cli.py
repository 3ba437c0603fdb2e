"""Arguments, then the settings, then one pass of the check (check.py), or `--local` (local.py).

Exit code 0 when no step failed, 1 when one did, 2 when the settings could not be read.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ops.golive import local, source
from ops.golive.check import run
from ops.golive.report import Reporter
from shared.platform.settings import SettingsError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ops.golive", description=__doc__)
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
        return local.run_local(args)
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


__all__ = ["main", "parser", "run"]
