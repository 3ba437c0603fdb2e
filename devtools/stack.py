"""The whole bridge on one machine: Azurite, the seeded simulators and the local runner, shared by
`make run`, `make demo`, the end-to-end tests and the benchmarks. The runner is a real subprocess, so
tests can SIGKILL it. OpenCX documents no webhook signature: none is required unless `webhook_secret`
is set (docs/contract.md section 2). `python -m devtools.stack` is `make run` (README, "Running
locally"): Azurite's data in `.azurite/` (queued handoffs survive a restart), the runner on PORT or
7071, a webhook secret only if OPENCX_WEBHOOK_SECRET is set; up until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from devtools import dataverse_sim, opencx_sim
from devtools.azurite import PROJECT_ROOT, Azurite, free_port
from devtools.dataverse_sim import DataverseSimulator
from devtools.messaging_sim import MessagingSimulator
from devtools.opencx_sim import OpenCXSimulator
from devtools.send_handoff import DEFAULT_SAMPLE
from devtools.simkit.cli import stop_on_signal

# Settings a developer's shell may carry that would point the credential away from the simulator.
_CREDENTIAL_OVERRIDES = {
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "MSI_ENDPOINT",
}


@dataclass
class MessagingParts:
    """Mode `messaging`: the Messaging API simulator, whose scripted rep posts to the runner's webhook
    and whose identity endpoint passes every other resource on to the Dataverse simulator's."""

    messaging: MessagingSimulator
    opencx: OpenCXSimulator  # the stack's own; the stack stops it

    def stop(self) -> None:
        self.messaging.rep.auto_reply = False
        self.messaging.stop()


@dataclass
class Stack:
    """Start with `start()`, stop with `stop()`; the runner can be killed and restarted alone."""

    azurite_location: Path | None = None  # None: in memory; a folder persists the queues
    host_json: Path = PROJECT_ROOT / "host.json"
    runner_port: int = field(default_factory=free_port)
    function_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    queue: str = "handoffs"  # HANDOFF_QUEUE
    runner_log: IO[str] | Path | None = None  # None: inherit stderr
    settings: dict[str, str] = field(default_factory=dict)  # extra or overriding app settings
    webhook_secret: str | None = None  # a whsec_ secret: when set, ingress requires a signature
    opencx_rate_limit: int | None = 100  # OpenCX's documented 100 a minute per key; None: off
    messaging: bool = False  # mode messaging: the Messaging API simulator too
    azurite: Azurite | None = None
    simulator: DataverseSimulator | None = None
    opencx: OpenCXSimulator | None = None
    runner: subprocess.Popen[bytes] | None = None
    messaging_parts: Any = None  # MessagingParts once started (Any: callers read it without a None check)
    _log_handle: IO[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.runner_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/api/handoffs"

    def start(self, timeout: float = 60.0) -> Stack:
        """Start every part; if one fails, stop what already runs rather than leak it."""
        try:
            self.azurite = Azurite(location=self.azurite_location).start(timeout)
            self.simulator = DataverseSimulator().start()
            dataverse_sim.seed_demo(self.simulator)
            self.opencx = OpenCXSimulator(rate_limit=self.opencx_rate_limit).start()
            opencx_sim.seed_demo(self.opencx)
            if self.messaging:  # DELIVERY_MODE=messaging in the settings, before the runner starts
                identity = (self.simulator.identity_endpoint, self.simulator.identity_header)
                messaging = MessagingSimulator(
                    webhook_url=f"{self.base_url}/api/messaging", upstream_identity=identity
                ).start()
                self.messaging_parts = MessagingParts(messaging, self.opencx)
                self.settings.update({**self.opencx.env(), **messaging.env(), "DELIVERY_MODE": "messaging"})
                self.settings.setdefault("MESSAGING_QUEUE", "messaging")
            self.start_runner(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def app_settings(self) -> dict[str, str]:
        """Every setting the Function App needs, pointing at this stack's Azurite and simulators."""
        if self.azurite is None or self.simulator is None or self.opencx is None:
            raise RuntimeError("start the stack first")
        return {
            "DEFAULT_QUEUE_ID": dataverse_sim.DEMO_WORKSTREAM_ID,
            **{f"WORKSTREAM_ID_{c.upper()}": ws for c, ws in dataverse_sim.DEMO_WORKSTREAMS.items()},
            "INCIDENT_QUEUE_ID": dataverse_sim.DEMO_QUEUE_ID,
            "INCIDENT_OWNER_ID": dataverse_sim.DEMO_OWNER_USER_ID,
            **({"OPENCX_WEBHOOK_SECRET": self.webhook_secret} if self.webhook_secret else {}),
            "AzureWebJobsStorage": self.azurite.connection_string,
            "HANDOFF_QUEUE": self.queue,
            "HANDOFF_MAX_ATTEMPTS": "10",
            "DATAVERSE_TIMEOUT_SECONDS": "5",
            "LOCAL_FUNCTION_KEY": self.function_key,
            **self.simulator.env(),
            **self.opencx.env(),  # OPENCX_API_URL, OPENCX_API_KEY
            **self.settings,
        }

    def start_runner(self, timeout: float = 60.0) -> None:
        """Start `python -m devtools.localhost` (the stack's settings only) and wait until it answers."""
        if isinstance(self.runner_log, Path) and self._log_handle is None:
            self._log_handle = self.runner_log.open("a", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_OVERRIDES}
        args = [
            sys.executable, "-m", "devtools.localhost",
            "--port", str(self.runner_port),
            "--host-json", str(self.host_json),
            "--settings", str(PROJECT_ROOT / ".no-local-settings"),
        ]  # fmt: skip
        log = self._log_handle or (None if isinstance(self.runner_log, Path) else self.runner_log)
        env = {**env, **self.app_settings(), "PYTHONUNBUFFERED": "1"}
        self.runner = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.runner.poll() is not None:
                raise RuntimeError(f"the local runner exited with {self.runner.returncode}")
            try:
                urllib.request.urlopen(self.webhook_url, timeout=1)  # noqa: S310 - our http URL
                return
            except urllib.error.HTTPError:  # a 405 answers too
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"the local runner did not answer on {self.webhook_url} within {timeout:.0f}s")

    def kill_runner(self) -> None:
        """SIGKILL: no drain, in-flight messages stay leased until their visibility expires."""
        if self.runner is not None:
            self.runner.kill()
            self.runner.wait(timeout=10)
            self.runner = None

    def stop_runner(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait for the graceful drain; returns the exit code."""
        runner, self.runner = self.runner, None
        if runner is None:
            return None
        runner.send_signal(signal.SIGTERM)
        try:
            return runner.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            runner.kill()
            return runner.wait(timeout=10)

    def stop(self) -> None:
        self.stop_runner()
        for part in (self.opencx, self.messaging_parts, self.simulator, self.azurite):
            if part is not None:
                part.stop()
        self.opencx = self.messaging_parts = self.simulator = self.azurite = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def banner(stack: Stack) -> str:
    assert stack.simulator is not None and stack.opencx is not None
    opencx, dv = stack.opencx.url, stack.simulator.url
    secret = f" --secret {stack.webhook_secret}" if stack.webhook_secret else ""
    url = f"{stack.webhook_url}?code={stack.function_key}"  # what an OpenCX admin pastes
    signature = "required (OPENCX_WEBHOOK_SECRET is set)" if secret else "not required"
    sample = os.path.relpath(DEFAULT_SAMPLE, PROJECT_ROOT)
    return f"""The bridge is running locally.
  webhook URL:      {url}
                    (paste this into OpenCX's webhook setting; the key also works as x-functions-key)
  signature:        {signature}
  OpenCX (sim):     {opencx}   (requests: {opencx}/_sim/requests, sessions: {opencx}/_sim/sessions)
  Dataverse (sim):  {dv}   (work items: {dv}/_sim/workitems, incidents: {dv}/_sim/incidents)
Send a handoff (the real OpenCX envelope of the demo SMS session):
  .venv/bin/python -m devtools.send_handoff {sample} --url '{url}'{secret}
Ctrl-C stops everything."""


def main() -> int:
    stack = Stack(azurite_location=PROJECT_ROOT / ".azurite", runner_port=int(os.environ.get("PORT", "7071")))
    stack.function_key = os.environ.get("LOCAL_FUNCTION_KEY") or stack.function_key
    stack.webhook_secret = os.environ.get("OPENCX_WEBHOOK_SECRET") or None
    stopping = stop_on_signal()
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
