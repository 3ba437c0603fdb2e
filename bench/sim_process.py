"""The Dataverse simulator in its own process (so it does not share the GIL with the worker
being measured), driven through its `/_sim/` admin API."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import requests


class SimulatorProcess:
    def __init__(self, *args: str) -> None:
        self.args = args
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> SimulatorProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools.dataverse_sim", *self.args],
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

    def admin(self, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self.url}/_sim/{name}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None
