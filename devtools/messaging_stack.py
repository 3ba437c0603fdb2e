"""Mode `messaging` on the local stack: the OpenCX and Messaging API simulators, wired to the runner.

`Stack(messaging=True)` calls `start_messaging` after the Dataverse simulator and before the
runner: the Messaging API simulator's scripted rep posts to the runner's webhook
(`{base_url}/api/messaging`), its identity endpoint hands out Messaging API tokens and passes
every other resource on to the Dataverse simulator's, and the app settings switch to
DELIVERY_MODE=messaging.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from devtools.messaging_sim import MessagingSimulator
from devtools.opencx_sim import OpenCXSimulator

if TYPE_CHECKING:
    from devtools.stack import Stack


@dataclass
class MessagingParts:
    messaging: MessagingSimulator
    opencx: OpenCXSimulator  # the stack's own; it stops it

    def stop(self) -> None:
        self.messaging.rep.auto_reply = False
        self.messaging.stop()


def start_messaging(stack: Stack) -> MessagingParts:
    """Start both simulators and put their settings into `stack.settings` (the runner is not up yet)."""
    if stack.simulator is None or stack.opencx is None:
        raise RuntimeError(
            "start the Dataverse and OpenCX simulators first (the identity upstream, the session store)"
        )
    opencx = stack.opencx
    messaging = MessagingSimulator(
        webhook_url=f"{stack.base_url}/api/messaging",
        upstream_identity=(stack.simulator.identity_endpoint, stack.simulator.identity_header),
    ).start()
    stack.settings.update(
        {
            **opencx.env(),
            **messaging.env(),
            "DELIVERY_MODE": "messaging",
            "MESSAGING_QUEUE": stack.settings.get("MESSAGING_QUEUE", "messaging"),
        }
    )
    return MessagingParts(messaging, opencx)
