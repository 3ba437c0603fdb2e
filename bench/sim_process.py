"""The simulators in their own processes (so they do not share the GIL with the worker being
measured), driven through their `/_sim/` admin APIs."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Self

import requests


class SimulatorProcess:
    """`python -m devtools.dataverse_sim ARGS`: it prints one JSON line with its URL, then serves."""

    module = "devtools.dataverse_sim"

    def __init__(self, *args: str) -> None:
        self.args = args
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> Self:
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.info = json.loads(self.process.stdout.readline())
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    @property
    def url(self) -> str:
        return str(self.info["url"])

    def env(self) -> dict[str, str]:
        return {
            "DATAVERSE_URL": self.url,
            "IDENTITY_ENDPOINT": str(self.info["identity_endpoint"]),
            "IDENTITY_HEADER": str(self.info["identity_header"]),
        }

    def admin(self, method: str, name: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.url}/_sim/{name}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None


class OpenCXProcess(SimulatorProcess):
    """`python -m devtools.opencx_sim ARGS` (prints `{"url", "api_key", "demo"}`)."""

    module = "devtools.opencx_sim"

    def env(self) -> dict[str, str]:
        return {"OPENCX_API_URL": self.url, "OPENCX_API_KEY": str(self.info["api_key"])}


def use_stack(sim: SimulatorProcess, opencx: SimulatorProcess, storage: str, **settings: str) -> None:
    """Point this process's settings at the simulators and Azurite (unsigned webhooks), plus `settings`."""
    import os

    os.environ.update(sim.env())
    os.environ.update(opencx.env())
    os.environ.pop("OPENCX_WEBHOOK_SECRET", None)
    os.environ.update({"AzureWebJobsStorage": storage, **settings})
