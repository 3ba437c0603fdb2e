"""Start and stop Azurite (from the project's own node_modules) on free loopback ports, so parallel
stacks and tests never collide."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"

# Azurite's published, well-known development account. It is not a secret.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    """Ask the kernel for an unused loopback port (a tiny race, acceptable for dev and tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


def connection_string(blob_port: int, queue_port: int, table_port: int) -> str:
    ports = {"Blob": blob_port, "Queue": queue_port, "Table": table_port}
    endpoints = "".join(f"{kind}Endpoint=http://127.0.0.1:{p}/{DEV_ACCOUNT};" for kind, p in ports.items())
    return f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};{endpoints}"


@dataclass
class Azurite:
    """One Azurite process. Ports stay fixed across stop/start so clients can reconnect."""

    location: Path | None = None  # None: in-memory (tests); a folder: persisted (make run)
    blob_port: int = field(default_factory=free_port)
    queue_port: int = field(default_factory=free_port)
    table_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.blob_port, self.queue_port, self.table_port)

    def start(self, timeout: float = 60.0) -> Azurite:
        if not AZURITE_BIN.exists():
            raise RuntimeError(f"{AZURITE_BIN} is missing: run `npm ci` (make deps does it)")
        args = [
            str(AZURITE_BIN),
            "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
            "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
            "--tableHost", "127.0.0.1", "--tablePort", str(self.table_port),
            "--skipApiVersionCheck", "--silent", "--loose",
        ]  # fmt: skip
        if self.location is None:
            args.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            args += ["--location", str(self.location)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for port in (self.blob_port, self.queue_port, self.table_port):
            wait_for_port(port, timeout)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        # In memory there is nothing to flush, and Azurite waits for idle keep-alive connections
        # on SIGTERM; a persisted one gets the chance to close its files.
        (self.process.kill if self.location is None else self.process.terminate)()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
