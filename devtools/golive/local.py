"""`--local`: the check against the local stack, every step, both modes, answering its own questions.

Azurite, the Dataverse simulator (demo seed, each workstream's channel set, routing ON for the SMS
workstream), the OpenCX simulator (which refuses sender "agent" and accepts "human_agent", so the
fallback shows), the Messaging simulator and a webhook stand-in. Pass 1 runs mode work_item (reads,
routing probe, send probe), pass 2 mode messaging (reads, webhook token probe). It ends by listing
what is left behind: nothing, when the probes clean up as they should.
"""

from __future__ import annotations

import argparse
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from devtools.golive import cli, labels, source
from devtools.golive.report import Reporter

SMS_CHANNEL, WHATSAPP_CHANNEL, WEB_CHANNEL = 192340000, 192300000, 192360000
ACCEPTED_SENDERS = ("contact", "human_agent")


@dataclass
class LocalStack:
    """The simulators and storage; `values(mode)` are the app settings pointing at them."""

    azurite_connection: str | None = None
    routing: bool = True
    audience: str | None = None  # the audience Microsoft's tokens carry (None: the one the settings name)
    exits: ExitStack = field(default_factory=ExitStack)
    parts: dict[str, Any] = field(default_factory=dict)

    def start(self) -> LocalStack:
        from devtools.azurite import Azurite
        from devtools.dataverse_sim import DEMO_WORKSTREAMS, DataverseSimulator, seed_demo
        from devtools.dataverse_sim.demo import DEMO_OWNER_USER_ID, DEMO_QUEUE_ID
        from devtools.messaging_sim import MessagingSimulator
        from devtools.opencx_sim import OpenCXSimulator
        from devtools.opencx_sim import seed_demo as seed_opencx

        if self.azurite_connection is None:
            azurite = Azurite().start()
            self.exits.callback(azurite.stop)
            self.azurite_connection = azurite.connection_string
        dataverse = self.exits.enter_context(DataverseSimulator())
        seed_demo(dataverse)
        for channel, source_value in (
            ("sms", SMS_CHANNEL),
            ("whatsapp", WHATSAPP_CHANNEL),
            ("web", WEB_CHANNEL),
        ):
            dataverse.set_streamsource(DEMO_WORKSTREAMS[channel], source_value)
        dataverse.route_workstream(DEMO_WORKSTREAMS["sms"], DEMO_QUEUE_ID, DEMO_OWNER_USER_ID)
        dataverse.set_routing(self.routing, delay=1.0)
        opencx = self.exits.enter_context(OpenCXSimulator(accepted_senders=ACCEPTED_SENDERS))
        seed_opencx(opencx)
        messaging = self.exits.enter_context(
            MessagingSimulator(
                upstream_identity=(dataverse.identity_endpoint, dataverse.identity_header),
                audience=self.audience,
            )
        )
        self.parts.update(dataverse=dataverse, opencx=opencx, messaging=messaging)
        return self

    def stop(self) -> None:
        self.exits.close()

    def values(self, mode: str, audience_setting: str | None = None) -> dict[str, str]:
        from devtools.dataverse_sim import DEMO_WORKSTREAMS

        dataverse, opencx, messaging = self.parts["dataverse"], self.parts["opencx"], self.parts["messaging"]
        values = {
            "AzureWebJobsStorage": str(self.azurite_connection),
            "DEFAULT_QUEUE_ID": DEMO_WORKSTREAMS["sms"],
            **{f"WORKSTREAM_ID_{c.upper()}": w for c, w in DEMO_WORKSTREAMS.items()},
            "DELIVERY_MODE": mode,
            "MESSAGING_TABLE": "golivemessaging",
            **dataverse.env(),
            **opencx.env(),
        }
        if mode == "messaging":
            values.update(messaging.env())
            if audience_setting:
                values["MESSAGING_WEBHOOK_AUDIENCE"] = audience_setting
        return values

    @property
    def session_id(self) -> str:
        from devtools.opencx_sim import SMS_SESSION_ID

        return SMS_SESSION_ID

    def leftovers(self, values: dict[str, str]) -> dict[str, int]:
        """What the probes could have left: probe work items, active conversations, golive rows."""
        from azure.data.tables import TableServiceClient

        dataverse, messaging = self.parts["dataverse"], self.parts["messaging"]
        items = [w for w in dataverse.work_items if str(w.get("subject", "")).startswith(labels.PROBE_PREFIX)]
        service = TableServiceClient.from_connection_string(str(self.azurite_connection))
        table = service.get_table_client(values.get("MESSAGING_TABLE", "messaging"))
        try:
            rows = len(list(table.list_entities()))
        except Exception:  # no table: no rows
            rows = 0
        active = sum(1 for c in messaging.conversations if c.get("active"))
        return {"probe work items": len(items), "active conversations": active, "messaging table rows": rows}


def apply_environment(values: dict[str, str]) -> None:
    """Credentials read the environment: the identity endpoint must be this pass's."""
    from shared.platform import credentials

    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
        os.environ.pop(name, None)
    os.environ.update({k: v for k, v in values.items() if k.startswith("IDENTITY_")})
    credentials.reset()


def run_pass(
    stack: LocalStack,
    args: argparse.Namespace,
    mode: str,
    report: Reporter,
    audience_setting: str | None = None,
) -> int:
    from devtools.golive.stand_in import WebhookStandIn

    values = stack.values(mode, audience_setting)
    apply_environment(values)
    app = source.validate(values)
    loaded = source.Loaded(values, f"the local stack (mode {mode})")
    stand_in = None
    if mode == "messaging":
        stand_in = WebhookStandIn(app.settings).start()
        stack.parts["messaging"].webhook_url = stand_in.url
    try:
        return cli.run(args, app, loaded, report)
    finally:
        if stand_in is not None:
            stand_in.stop()


def run_local(args: argparse.Namespace) -> int:
    args.yes = True
    args.routing_probe = args.send_probe = True
    args.session = args.session or None
    args.wait_minutes = min(args.wait_minutes, 0.5)
    args.token_wait_seconds = min(args.token_wait_seconds, 20.0)
    stack = LocalStack().start()
    report = Reporter()
    try:
        args.session = args.session or stack.session_id
        report.say("#### Pass 1 of 2: mode work_item")
        first = run_pass(stack, args, "work_item", report)
        args.send_probe = False
        report.say()
        report.say("#### Pass 2 of 2: mode messaging")
        second = run_pass(stack, args, "messaging", Reporter())
        report.say()
        report.say(
            "#### Left behind: "
            + ", ".join(f"{k} {v}" for k, v in stack.leftovers(stack.values("messaging")).items())
        )
        return max(first, second)
    finally:
        stack.stop()
