"""`--local`: the check against the bridge's own local stack, every step, both modes, answering for itself.

Each pass runs on a devtools.stack.Stack, the same stack `make run` and the end-to-end tests use:
Azurite, the Dataverse and OpenCX simulators and the real Functions runner (`python -m
devtools.localhost`); in mode messaging also the Messaging API simulator, whose scripted rep posts
to the runner's real messaging webhook (messaging_webhook/, which records the token for step 4).
On top of the demo seed the check sets what a tenant's admin would have configured: each
workstream's channel, unified routing ON for the SMS workstream (the routing probe's pass path)
and an OpenCX that refuses sender "agent" and accepts "human_agent" (so the fallback shows).

The settings are read the way an admin's are: the stack's app settings (what its runner was
started with) are written to a local.settings.json and read back through source.from_file.
Pass 1 runs mode work_item (reads, routing probe, send probe) on `Stack()`, pass 2 mode messaging
(reads, webhook token probe) on `Stack(messaging=True)`. It ends by listing what the probes left
behind on both stacks: nothing, when they clean up as they should.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import Counter
from pathlib import Path

from devtools.stack import Stack
from ops.golive import check, labels, source
from ops.golive.report import Reporter
from shared.messaging.reconcile import SWEEP_PK

SMS_CHANNEL, WHATSAPP_CHANNEL, WEB_CHANNEL = 192340000, 192300000, 192360000
ACCEPTED_SENDERS = ("contact", "human_agent")
ROUTING_DELAY_SECONDS = 1.0


def start_stack(mode: str, runner_log: Path | None = None, *, routing: bool = True) -> Stack:
    """A started Stack for `mode`, configured as a tenant ready to go live would be."""
    from devtools.dataverse_sim import DEMO_WORKSTREAMS
    from devtools.dataverse_sim.demo import DEMO_OWNER_USER_ID, DEMO_QUEUE_ID

    stack = Stack(messaging=mode == "messaging", runner_log=runner_log).start()
    try:
        dataverse, opencx = stack.simulator, stack.opencx
        assert dataverse is not None and opencx is not None
        for channel, value in (("sms", SMS_CHANNEL), ("whatsapp", WHATSAPP_CHANNEL), ("web", WEB_CHANNEL)):
            dataverse.set_streamsource(DEMO_WORKSTREAMS[channel], value)
        dataverse.route_workstream(DEMO_WORKSTREAMS["sms"], DEMO_QUEUE_ID, DEMO_OWNER_USER_ID)
        dataverse.set_routing(routing, delay=ROUTING_DELAY_SECONDS)
        opencx.accepted_senders = frozenset(ACCEPTED_SENDERS)
    except BaseException:
        stack.stop()
        raise
    return stack


def mode_of(stack: Stack) -> str:
    return "messaging" if stack.messaging else "work_item"


def load(stack: Stack, folder: Path) -> source.Loaded:
    """The stack's app settings as an admin's local.settings.json gives them: written, then read back."""
    path = folder / f"local.settings.{mode_of(stack)}.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": stack.app_settings()}, indent=2), "utf-8")
    loaded = source.from_file(path)
    return source.Loaded(loaded.values, f"the local stack (mode {mode_of(stack)})", loaded.unresolved)


def apply_environment(values: dict[str, str]) -> None:
    """Credentials read the environment: the identity endpoint must be this stack's."""
    from shared.platform import process

    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
        os.environ.pop(name, None)
    os.environ.update({k: v for k, v in values.items() if k.startswith("IDENTITY_")})
    process.close_all()  # credentials built from the old environment are dropped


def leftovers(stack: Stack) -> dict[str, int]:
    """What the probes could have left: probe work items, active conversations, messaging table rows."""
    from azure.data.tables import TableServiceClient

    assert stack.simulator is not None and stack.azurite is not None
    items = [
        w for w in stack.simulator.work_items if str(w.get("subject", "")).startswith(labels.PROBE_PREFIX)
    ]
    active = 0
    if stack.messaging_parts is not None:
        active = sum(1 for c in stack.messaging_parts.messaging.conversations if c.get("active"))
    table_name = source.validate(stack.app_settings()).settings.messaging_table
    service = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    try:
        # The reconcile timer's own bookkeeping row (when it last swept) is not something a probe left.
        entities = service.get_table_client(table_name).list_entities()
        rows = sum(1 for row in entities if row.get("PartitionKey") != SWEEP_PK)
    except Exception:  # no table: no rows
        rows = 0
    finally:
        service.close()
    return {"probe work items": len(items), "active conversations": active, "messaging table rows": rows}


def run_pass(stack: Stack, args: argparse.Namespace, report: Reporter, folder: Path | None = None) -> int:
    """One run of the check (check.run) with the settings the stack's runner was started with."""
    with tempfile.TemporaryDirectory() as scratch:
        loaded = load(stack, folder or Path(scratch))
    apply_environment(loaded.values)
    return check.run(args, source.validate(loaded.values), loaded, report)


def run_local(args: argparse.Namespace) -> int:
    args.yes = True
    args.routing_probe = args.send_probe = True
    args.wait_minutes = min(args.wait_minutes, 0.5)
    args.token_wait_seconds = min(args.token_wait_seconds, 20.0)
    report = Reporter()
    left: Counter[str] = Counter()
    codes = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for number, mode in enumerate(("work_item", "messaging"), start=1):
            report.say(f"#### Pass {number} of 2: mode {mode}")
            stack = start_stack(mode, folder / f"runner-{mode}.log")
            try:
                if mode == "work_item":
                    from devtools.opencx_sim import SMS_SESSION_ID

                    args.session = args.session or SMS_SESSION_ID
                else:
                    args.send_probe = False
                codes.append(run_pass(stack, args, report if number == 1 else Reporter(), folder))
                left.update(leftovers(stack))
            finally:
                stack.stop()
            report.say()
    report.say("#### Left behind: " + ", ".join(f"{k} {v}" for k, v in left.items()))
    return max(codes)
