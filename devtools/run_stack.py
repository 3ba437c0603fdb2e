"""`make run`: the local stack, up until Ctrl-C, for trying the bridge by hand.

Prints the webhook URL with `?code=` (what an OpenCX admin pastes into OpenCX's webhook setting)
and the two simulators' URLs. No webhook secret unless OPENCX_WEBHOOK_SECRET is set in the shell
(OpenCX documents no signature). Azurite keeps its data in `.azurite/`, so queued handoffs survive a restart. The runner listens on
7071 (like `func start`) unless PORT is set, and its invocation log goes to this terminal.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

from devtools.azurite import PROJECT_ROOT
from devtools.stack import Stack

SAMPLE = PROJECT_ROOT / "samples" / "opencx" / "handoff-sms.json"


def banner(stack: Stack) -> str:
    """What a developer needs to point a client at the stack."""
    assert stack.simulator is not None and stack.opencx is not None
    sample = os.path.relpath(SAMPLE, PROJECT_ROOT)
    secret = f" --secret {stack.webhook_secret}" if stack.webhook_secret else ""
    signing = "required (OPENCX_WEBHOOK_SECRET is set)" if stack.webhook_secret else "not required"
    return "\n".join(
        [
            "The bridge is running locally.",
            f"  webhook URL:      {stack.webhook_url_with_code}",
            "                    (paste this into OpenCX's webhook setting; the key also works as x-functions-key)",
            f"  signature:        {signing}",
            f"  OpenCX (sim):     {stack.opencx.url}   (requests: {stack.opencx.url}/_sim/requests,"
            f" sessions: {stack.opencx.url}/_sim/sessions)",
            f"  Dataverse (sim):  {stack.simulator.url}   (work items: {stack.simulator.url}/_sim/workitems,"
            f" incidents: {stack.simulator.url}/_sim/incidents)",
            "Send a handoff (the real OpenCX envelope of the demo SMS session):",
            f"  .venv/bin/python -m devtools.send_handoff {sample} --url '{stack.webhook_url_with_code}'{secret}",
            "Ctrl-C stops everything.",
        ]
    )


def main() -> int:
    port = int(os.environ.get("PORT", "7071"))
    key = os.environ.get("LOCAL_FUNCTION_KEY")
    stack = Stack(azurite_location=PROJECT_ROOT / ".azurite", runner_port=port)
    if key:
        stack.function_key = key
    stack.webhook_secret = os.environ.get("OPENCX_WEBHOOK_SECRET") or None
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
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
