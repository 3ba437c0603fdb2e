"""`make run` (README, "Running locally"): the local stack, up until Ctrl-C, for trying the bridge by hand.

Azurite keeps its data in `.azurite/`, so queued handoffs survive a restart; the runner listens on 7071
(like `func start`) unless PORT is set; no webhook secret unless OPENCX_WEBHOOK_SECRET is set.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from devtools.azurite import PROJECT_ROOT
from devtools.send_handoff import DEFAULT_SAMPLE
from devtools.stack import Stack


def banner(stack: Stack) -> str:
    """What a developer needs to point a client at the stack."""
    assert stack.simulator is not None and stack.opencx is not None
    opencx, dataverse = stack.opencx.url, stack.simulator.url
    secret = f" --secret {stack.webhook_secret}" if stack.webhook_secret else ""
    return "\n".join(
        [
            "The bridge is running locally.",
            f"  webhook URL:      {stack.webhook_url_with_code}",
            "                    (paste this into OpenCX's webhook setting; the key also works as x-functions-key)",
            f"  signature:        {'required (OPENCX_WEBHOOK_SECRET is set)' if secret else 'not required'}",
            f"  OpenCX (sim):     {opencx}   (requests: {opencx}/_sim/requests, sessions: {opencx}/_sim/sessions)",
            f"  Dataverse (sim):  {dataverse}   (work items: {dataverse}/_sim/workitems,"
            f" incidents: {dataverse}/_sim/incidents)",
            "Send a handoff (the real OpenCX envelope of the demo SMS session):",
            f"  .venv/bin/python -m devtools.send_handoff {os.path.relpath(DEFAULT_SAMPLE, PROJECT_ROOT)}"
            f" --url '{stack.webhook_url_with_code}'{secret}",
            "Ctrl-C stops everything.",
        ]
    )


def main() -> int:
    stack = Stack(azurite_location=PROJECT_ROOT / ".azurite", runner_port=int(os.environ.get("PORT", "7071")))
    stack.function_key = os.environ.get("LOCAL_FUNCTION_KEY") or stack.function_key
    stack.webhook_secret = os.environ.get("OPENCX_WEBHOOK_SECRET") or None
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    stack.start()
    try:
        print(banner(stack), flush=True)
        while not stopping.wait(0.5):
            if stack.runner is not None and stack.runner.poll() is not None:
                print(f"the local runner exited with {stack.runner.returncode}", file=sys.stderr)
                return 1
    finally:
        print("Stopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
