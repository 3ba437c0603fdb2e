"""`python -m devtools.<simulator>` helpers: the common arguments, and serving in the foreground until
SIGINT/SIGTERM after printing one JSON line that says where the simulator listens."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import Any


def simulator_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--port", type=int, default=None, help="listen port (default: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API call")
    return parser


def stop_on_signal() -> threading.Event:
    """An event SIGINT and SIGTERM set, for a command that serves until one arrives."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    return stopping


def serve_until_signal(sim: Any, info: dict[str, object]) -> int:
    """Print `info` as one JSON line (what a parent process reads), serve until SIGINT/SIGTERM, stop."""
    stopping = stop_on_signal()
    print(json.dumps(info), flush=True)
    stopping.wait()
    sim.stop()
    return 0
